//! The names the scenario format knows: what a step can `do`, and ALICE's detectors. Below the
//! raw types, their schema and the validator, which all read them, so that the three cannot
//! disagree.

/// What a timeline step can `do`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Create,
    Deploy,
    Configure,
    Reset,
    Start,
    Stop,
    Destroy,
    GoError,
    EndOfStream,
    TaskInternalError,
    BeamMode,
    Wait,
}

impl Verb {
    /// Every verb, in the order messages list them.
    pub(crate) const ALL: [Verb; 12] = [
        Verb::Create,
        Verb::Deploy,
        Verb::Configure,
        Verb::Reset,
        Verb::Start,
        Verb::Stop,
        Verb::Destroy,
        Verb::GoError,
        Verb::EndOfStream,
        Verb::TaskInternalError,
        Verb::BeamMode,
        Verb::Wait,
    ];

    /// The name a scenario writes (lower case; matched without regard to case).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Deploy => "deploy",
            Verb::Configure => "configure",
            Verb::Reset => "reset",
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Destroy => "destroy",
            Verb::GoError => "go_error",
            Verb::EndOfStream => "end_of_stream",
            Verb::TaskInternalError => "task_internal_error",
            Verb::BeamMode => "beam_mode",
            Verb::Wait => "wait",
        }
    }

    /// The verb `name` means: its name, or AliECS's transition name for `start` and `stop`.
    pub(crate) fn parse(name: &str) -> Option<Verb> {
        match name {
            "start_activity" => Some(Verb::Start),
            "stop_activity" => Some(Verb::Stop),
            _ => Verb::ALL.into_iter().find(|verb| verb.name() == name),
        }
    }

    /// The names of every verb, for messages.
    pub(crate) fn names() -> Vec<&'static str> {
        Verb::ALL.map(Verb::name).to_vec()
    }
}

/// The detectors AliECS accepts (`common/system/systemid.go`; as `ecsim serve`'s inventory):
/// anything else "does not belong to ID values".
pub(crate) const ALICE_DETECTORS: &[&str] = &[
    "CPV", "DCS", "EMC", "FDD", "FIT", "FOC", "FT0", "FV0", "HMP", "ITS", "MCH", "MFT", "MID",
    "NIL", "PHS", "TOF", "TPC", "TRD", "TRG", "TST", "ZDC",
];

/// Every name `do` takes (AliECS's transition names `start_activity` and `stop_activity`
/// included), for the schema.
pub(crate) fn action_names() -> Vec<&'static str> {
    let mut names = Verb::names();
    names.extend(["start_activity", "stop_activity"]);
    names
}
