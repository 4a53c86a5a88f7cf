//! The LHC's beam mode read from the broker, as AliECS's `lhc` plugin reads it: whatever
//! publishes `dip.lhc.beam_mode` there — ALICE's DIP client, another tool — sets the fill
//! information and stops the runs that asked for it on a beam dump, in `ecsim serve` and in a
//! real-time `ecsim run`.

use ecsim_kafka::{
    Settings,
    dip::{BeamModeFollower, BeamUpdate},
};
use ecsim_replay::driver::LhcInput;

use crate::exit::CliError;

/// A running follower and the task applying what it reads; [`Dip::stop`] ends both.
#[derive(Debug)]
pub(crate) struct Dip {
    follower: BeamModeFollower,
    applier: tokio::task::JoinHandle<()>,
}

/// Follows `dip.lhc.beam_mode` on `brokers` into `lhc`, skipping what this invocation
/// (`run_id`) published itself. To be called on the simulation's runtime.
pub(crate) fn follow(brokers: &str, run_id: &str, lhc: LhcInput) -> Result<Dip, CliError> {
    // Changes wait here for the core; the LHC changes its mode a few times an hour.
    let (sender, mut updates) = tokio::sync::mpsc::channel::<BeamUpdate>(1024);
    let settings = Settings {
        brokers: Some(brokers.to_owned()),
        properties: Vec::new(),
    };
    let follower = BeamModeFollower::start(settings, Some(run_id.to_owned()), move |update| {
        if sender.blocking_send(update).is_err() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .map_err(|error| anyhow::anyhow!("starting to read dip.lhc.beam_mode: {error}"))?;
    let applier = tokio::spawn(async move {
        while let Some(update) = updates.recv().await {
            lhc.apply(update.info, update.backlog).await;
        }
    });
    Ok(Dip { follower, applier })
}

impl Dip {
    /// Stops reading; what was read and not applied yet is dropped.
    pub(crate) fn stop(self) {
        self.applier.abort();
        self.follower.stop();
    }
}
