//! `ecsim plugin check LIB`: does a plugin library behave as ecsim and AliECS expect — for its
//! author, in words, before any scenario uses it.
//!
//! The library runs in a host process, as an isolated plugin does, so that whatever it does is
//! a finding and never the end of the check. In order: it loads (every check of a run); each
//! plugin starts with the configuration given; each declared function answers representative
//! AliECS calls — at configure, at start of run, at end of run, with their triggers, variables
//! and a timeout — within its timeout, with a reply that decodes, events on its own topic, and
//! without a panic; a function it does not declare and a request that does not decode fail
//! cleanly; it stops; and creating and destroying many instances does not grow the process.
//!
//! A call that *reports* a failure is not a problem (refusing is a plugin's right; it is noted);
//! a panic, a crash, a hang, a malformed reply, an event on another plugin's topic and a leak
//! are.

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use ecsim_proto::{
    events::Traits,
    plugin::{CallReply, CallRequest, CreateReply, CreateRequest, DestroyReply, create_reply},
    prost::Message as _,
};
use serde::Serialize;

mod host;

use host::{Host, describe};

use crate::isolation::{frame::Tag, process::Hello};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// As expected.
    Ok,
    /// Worth knowing, not wrong (a call the plugin refused, a slow call).
    Note,
    /// Does not conform: a run would fail, hang or lose something because of it.
    Problem,
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub level: Level,
    /// What was checked (`example.StartOfRun at before_START_ACTIVITY+100`).
    pub subject: String,
    /// What was found, in words.
    pub message: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub struct Conformance {
    /// The library.
    pub library: PathBuf,
    /// Everything found, in the order it was checked.
    pub findings: Vec<Finding>,
}

impl Conformance {
    /// How many problems.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Problem)
            .count()
    }

    fn add(&mut self, level: Level, subject: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            level,
            subject: subject.into(),
            message: message.into(),
        });
    }
}

impl fmt::Display for Conformance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "library: {}", self.library.display())?;
        for finding in &self.findings {
            let level = match finding.level {
                Level::Ok => "ok     ",
                Level::Note => "note   ",
                Level::Problem => "PROBLEM",
            };
            writeln!(f, "  {level} {}: {}", finding.subject, finding.message)?;
        }
        match self.problems() {
            0 => writeln!(f, "conforms: yes"),
            n => writeln!(
                f,
                "conforms: no, {n} problem{}",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
}

/// What a check is given.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Each plugin's configuration (JSON text), by plugin name; none for the others.
    pub config: BTreeMap<String, String>,
}

/// The wall-clock time a start or a stop may take.
pub(super) const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The timeout of the representative calls (the `timeout` a workflow would give them).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A call that takes longer than this in real time is noted as slow.
const SLOW: Duration = Duration::from_secs(1);
/// Instances created and destroyed to look for a leak, after a first round that warms up.
const LEAK_ROUNDS: usize = 200;
/// Growth over [`LEAK_ROUNDS`] instances past which they leak (allocators keep some memory).
const LEAK_BYTES: u64 = 2 << 20;

/// The calls AliECS makes to a plugin function, at the moments a workflow template places them.
fn representative_calls(plugin: &str, function: &str) -> Vec<CallRequest> {
    let moments = [
        ("before_CONFIGURE", None),
        ("before_START_ACTIVITY+100", Some("1234")),
        ("after_STOP_ACTIVITY", Some("1234")),
    ];
    moments
        .into_iter()
        .map(|(trigger, run_number)| {
            let mut vars: BTreeMap<String, String> = [
                ("environment_id", "2oDvieFrVTi"),
                ("detectors", "[\"ITS\",\"TPC\"]"),
                ("run_type", "PHYSICS"),
                ("lhc_period", "LHC25a"),
                ("pdp_beam_type", "pp"),
                ("user", "ecsim"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            if let Some(run) = run_number {
                vars.insert("run_number".to_owned(), run.to_owned());
            }
            CallRequest {
                function: function.to_owned(),
                func: format!("{plugin}.{function}()"),
                role_path: format!("readout-dataflow.{plugin}.{}", function.to_lowercase()),
                environment_id: "2oDvieFrVTi".to_owned(),
                traits: Some(Traits {
                    trigger: trigger.to_owned(),
                    r#await: trigger.to_owned(),
                    timeout: format!("{}s", CALL_TIMEOUT.as_secs()),
                    critical: true,
                }),
                vars: vars.into_iter().collect(),
                now_ms: 1_750_000_000_000,
                environment_name: "physics".to_owned(),
                timeout_ms: u64::try_from(CALL_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            }
        })
        .collect()
}

/// Checks the library at `path`.
pub fn check(path: &Path, options: &CheckOptions) -> Conformance {
    let mut report = Conformance {
        library: path.to_owned(),
        findings: Vec::new(),
    };
    let label = path.file_stem().map_or_else(
        || "library".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let mut host = Host {
        library: path.to_owned(),
        label,
        process: None,
    };
    let manifest = match host.start() {
        Ok(Hello::Loaded(version, manifest)) => {
            match crate::library::check_manifest(path, &manifest) {
                Ok(manifest) => {
                    report.add(
                        Level::Ok,
                        "loads",
                        format!(
                            "ABI {}, built with ecsim-plugin-sdk {version}; plugins: {}",
                            ecsim_plugin_abi::ABI_VERSION,
                            manifest
                                .plugins
                                .iter()
                                .map(|p| format!("{} ({})", p.name, p.functions.join(", ")))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    );
                    manifest
                }
                Err(error) => {
                    report.add(Level::Problem, "loads", error.to_string());
                    host.close();
                    return report;
                }
            }
        }
        Ok(Hello::Refused(why)) => {
            report.add(Level::Problem, "loads", why);
            host.close();
            return report;
        }
        Err(why) => {
            report.add(Level::Problem, "loads", why);
            return report;
        }
    };
    for plugin in &manifest.plugins {
        check_plugin(&mut host, plugin, options, &mut report);
    }
    host.close();
    report
}

/// Creates an instance of `plugin` in the host process (started again if a finding ended it),
/// or says why not.
fn create(
    host: &mut Host,
    plugin: &str,
    config: &str,
    instance: u32,
) -> Result<(), (Level, String)> {
    if host.process.is_none() {
        match host.start() {
            Ok(Hello::Loaded(..)) => {}
            Ok(Hello::Refused(why)) => return Err((Level::Problem, why)),
            Err(why) => return Err((Level::Problem, format!("cannot restart it: {why}"))),
        }
    }
    let request = CreateRequest {
        plugin: plugin.to_owned(),
        instance_id: format!("ecsim-check-{instance:04}"),
        config_json: config.to_owned(),
        seed: 1,
        virtual_time: true,
    };
    let reply = host
        .request(Tag::Create, request.encode_to_vec(), LIFECYCLE_TIMEOUT)
        .map_err(|failure| (Level::Problem, describe(failure, LIFECYCLE_TIMEOUT)))?;
    match CreateReply::decode(reply.as_slice()).map(|r| r.result) {
        Ok(Some(create_reply::Result::Instance(_))) => Ok(()),
        Ok(Some(create_reply::Result::Error(why))) => Err((
            Level::Problem,
            format!(
                "refused to start with {}: {why}",
                if config.is_empty() {
                    "no configuration (give one with --config NAME=JSON if it needs one)".to_owned()
                } else {
                    format!("the configuration {config}")
                }
            ),
        )),
        Ok(None) => Err((Level::Problem, "its create reply says nothing".to_owned())),
        Err(error) => Err((
            Level::Problem,
            format!("its create reply does not decode: {error}"),
        )),
    }
}

fn check_plugin(
    host: &mut Host,
    plugin: &ecsim_proto::plugin::PluginInfo,
    options: &CheckOptions,
    report: &mut Conformance,
) {
    let name = &plugin.name;
    let config = options.config.get(name).cloned().unwrap_or_default();
    let started = create(host, name, &config, 0);
    if let Err((level, why)) = started {
        report.add(level, format!("{name}: start"), why);
        return;
    }
    report.add(Level::Ok, format!("{name}: start"), "started");
    let own_topic = ecsim_proto::topics::integrated_service(name).into_owned();
    let mut restarted = 0;
    for function in &plugin.functions {
        for request in representative_calls(name, function) {
            let trigger = request
                .traits
                .as_ref()
                .map(|t| t.trigger.clone())
                .unwrap_or_default();
            let subject = format!("{name}.{function} at {trigger}");
            let began = Instant::now();
            let (level, message) =
                match host.request(Tag::Call, request.encode_to_vec(), CALL_TIMEOUT + SLOW) {
                    Ok(reply) => judge_call(&reply, &own_topic, began.elapsed()),
                    Err(failure) => {
                        // Start again for the calls left.
                        restarted += 1;
                        let message = describe(failure, CALL_TIMEOUT + SLOW);
                        match create(host, name, &config, restarted) {
                            Ok(()) => {}
                            Err((_, why)) => {
                                report.add(Level::Problem, subject, message);
                                report.add(Level::Problem, format!("{name}: restart"), why);
                                return;
                            }
                        }
                        // One crash or hang of a function says enough of it.
                        report.add(Level::Problem, subject, message);
                        break;
                    }
                };
            report.add(level, subject, message);
        }
    }

    // What is not declared, and what does not decode, fails cleanly.
    let undeclared = CallRequest {
        function: "NotAFunctionOfThisPlugin".to_owned(),
        func: format!("{name}.NotAFunctionOfThisPlugin()"),
        ..CallRequest::default()
    };
    for (subject, payload) in [
        ("a function it does not declare", undeclared.encode_to_vec()),
        (
            "a request that does not decode",
            vec![0xff, 0xff, 0xff, 0xff, 0x0f],
        ),
    ] {
        let subject = format!("{name}: {subject}");
        match host.request(Tag::Call, payload, CALL_TIMEOUT + SLOW) {
            Ok(reply) => match CallReply::decode(reply.as_slice()) {
                Ok(CallReply {
                    error: Some(error), ..
                }) if error.panicked => {
                    report.add(
                        Level::Problem,
                        subject,
                        format!("panicked: {}", error.message),
                    );
                }
                Ok(CallReply {
                    error: Some(error), ..
                }) => report.add(Level::Ok, subject, format!("fails: {}", error.message)),
                Ok(_) => report.add(
                    Level::Problem,
                    subject,
                    "succeeds: a call AliECS would never make must fail",
                ),
                Err(error) => report.add(
                    Level::Problem,
                    subject,
                    format!("the reply does not decode: {error}"),
                ),
            },
            Err(failure) => {
                report.add(
                    Level::Problem,
                    subject,
                    describe(failure, CALL_TIMEOUT + SLOW),
                );
                restarted += 1;
                match create(host, name, &config, restarted) {
                    Ok(()) => {}
                    Err((_, why)) => {
                        report.add(Level::Problem, format!("{name}: restart"), why);
                        return;
                    }
                }
            }
        }
    }

    let stopped = destroy(host);
    match &stopped {
        Ok(()) => report.add(Level::Ok, format!("{name}: stop"), "stopped"),
        Err(why) => report.add(Level::Problem, format!("{name}: stop"), why.clone()),
    }
    if stopped.is_ok() {
        check_leaks(host, name, &config, report);
    }
}

fn destroy(host: &mut Host) -> Result<(), String> {
    let reply = host
        .request(Tag::Destroy, Vec::new(), LIFECYCLE_TIMEOUT)
        .map_err(|failure| describe(failure, LIFECYCLE_TIMEOUT))?;
    match DestroyReply::decode(reply.as_slice()) {
        Ok(reply) if reply.error.is_empty() => Ok(()),
        Ok(reply) => Err(format!("its destroy failed: {}", reply.error)),
        Err(error) => Err(format!("its destroy reply does not decode: {error}")),
    }
}

/// What a call's reply says of the plugin.
fn judge_call(reply: &[u8], own_topic: &str, took: Duration) -> (Level, String) {
    if let Err(why) = crate::call::check_reply(reply) {
        return (Level::Problem, format!("its reply is malformed: {why}"));
    }
    let Ok(reply) = CallReply::decode(reply) else {
        return (Level::Problem, "its reply does not decode".to_owned());
    };
    if let Some(error) = &reply.error
        && error.panicked
    {
        return (
            Level::Problem,
            format!("panicked: {} {}", error.message, error.reason)
                .trim_end()
                .to_owned(),
        );
    }
    if let Some(foreign) = reply
        .events
        .iter()
        .map(|e| ecsim_proto::topics::integrated_service(&e.service).into_owned())
        .find(|topic| topic != own_topic)
    {
        return (
            Level::Problem,
            format!(
                "publishes on {foreign}: a library's plugin writes only its own topic, {own_topic}, which is the only one ecsim makes for it"
            ),
        );
    }
    let mut said = match &reply.error {
        Some(error) if error.message.is_empty() => {
            return (
                Level::Problem,
                "fails without a message (AliECS would report an empty __call_error)".to_owned(),
            );
        }
        Some(error) => format!("fails: {}", error.message),
        None => format!("answers {:?}", reply.output),
    };
    said.push_str(&format!(
        ", {} event{}, {} runtime variable{}, {} ms simulated",
        reply.events.len(),
        if reply.events.len() == 1 { "" } else { "s" },
        reply.runtime_vars.len(),
        if reply.runtime_vars.len() == 1 {
            ""
        } else {
            "s"
        },
        reply.duration_ms
    ));
    let mut level = if reply.error.is_some() {
        Level::Note
    } else {
        Level::Ok
    };
    if reply.duration_ms > CALL_TIMEOUT.as_millis() as u64 {
        level = Level::Note;
        said.push_str(&format!(
            "; past its {} s timeout, so the call fails at the timeout",
            CALL_TIMEOUT.as_secs()
        ));
    }
    if took > SLOW {
        level = Level::Note;
        said.push_str(&format!("; slow: {} ms of real time", took.as_millis()));
    }
    (level, said)
}

/// Creates and destroys instances in one process, and compares its memory before and after.
fn check_leaks(host: &mut Host, name: &str, config: &str, report: &mut Conformance) {
    let subject = format!("{name}: {LEAK_ROUNDS} instances started and stopped");
    let cycle = |n: usize, host: &mut Host| -> Result<(), String> {
        for i in 0..n {
            create(
                host,
                name,
                config,
                1000 + u32::try_from(i).unwrap_or(u32::MAX),
            )
            .map_err(|(_, why)| why)?;
            destroy(host)?;
        }
        Ok(())
    };
    if let Err(why) = cycle(LEAK_ROUNDS / 10, host) {
        report.add(Level::Problem, subject, why);
        return;
    }
    let before = host.resident();
    if let Err(why) = cycle(LEAK_ROUNDS, host) {
        report.add(Level::Problem, subject, why);
        return;
    }
    match (before, host.resident()) {
        (Some(before), Some(after)) if after > before + LEAK_BYTES => report.add(
            Level::Problem,
            subject,
            format!(
                "its process grew by {} KiB, about {} bytes an instance: instances leak",
                (after - before) / 1024,
                (after - before) / LEAK_ROUNDS as u64
            ),
        ),
        (Some(before), Some(after)) => report.add(
            Level::Ok,
            subject,
            format!(
                "its process grew by {} KiB (at most {} KiB allowed)",
                after.saturating_sub(before) / 1024,
                LEAK_BYTES / 1024
            ),
        ),
        _ => report.add(
            Level::Note,
            subject,
            "no leak measured: the process's memory cannot be read here",
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn representative_calls_carry_what_aliecs_gives_at_each_moment() {
        let calls = representative_calls("logbook", "StartOfRun");
        let triggers: Vec<_> = calls
            .iter()
            .map(|c| c.traits.as_ref().unwrap().trigger.as_str())
            .collect();
        assert_eq!(
            triggers,
            [
                "before_CONFIGURE",
                "before_START_ACTIVITY+100",
                "after_STOP_ACTIVITY"
            ]
        );
        assert!(
            !calls[0].vars.contains_key("run_number"),
            "no run at configure"
        );
        assert_eq!(calls[1].vars["run_number"], "1234");
        assert_eq!(calls[1].func, "logbook.StartOfRun()");
        assert_eq!(calls[1].timeout_ms, 10_000);
    }

    #[test]
    fn a_reply_is_judged_on_panics_topics_and_messages() {
        let own = "aliecs.integrated_service.logbook";
        let ok = CallReply {
            output: "done".into(),
            ..Default::default()
        };
        let (level, said) = judge_call(&ok.encode_to_vec(), own, Duration::ZERO);
        assert_eq!(level, Level::Ok, "{said}");
        assert!(said.starts_with("answers \"done\", 0 events"), "{said}");
        let panicked = CallReply {
            error: Some(ecsim_proto::plugin::CallError {
                message: "logbook.StartOfRun panicked".into(),
                reason: "index out of range".into(),
                panicked: true,
            }),
            ..Default::default()
        };
        assert_eq!(
            judge_call(&panicked.encode_to_vec(), own, Duration::ZERO),
            (
                Level::Problem,
                "panicked: logbook.StartOfRun panicked index out of range".to_owned()
            )
        );
        let silent = CallReply {
            error: Some(ecsim_proto::plugin::CallError::default()),
            ..Default::default()
        };
        assert_eq!(
            judge_call(&silent.encode_to_vec(), own, Duration::ZERO).0,
            Level::Problem
        );
        let slow = judge_call(&ok.encode_to_vec(), own, Duration::from_secs(3));
        assert_eq!(slow.0, Level::Note);
        assert!(slow.1.ends_with("slow: 3000 ms of real time"), "{}", slow.1);
        let (level, said) = judge_call(b"\xff\xff", own, Duration::ZERO);
        assert_eq!(level, Level::Problem, "{said}");
    }
}
