//! Following `dip.lhc.beam_mode` on a broker, as AliECS's `lhc` plugin does.
//!
//! ALICE's DIP client writes each beam mode change of the LHC to `dip.lhc.beam_mode`; AliECS's
//! `lhc` plugin reads the topic (`core/integration/lhc/plugin.go`): what is already there only
//! sets the fill information its calls hand out, and every change from then on also goes to
//! the environment manager, which stops the runs that asked for it on a beam dump. A
//! [`BeamModeFollower`] reads the topic the same way, on a thread of its own, without joining a
//! group (the readers of [`crate::consumer`] take nothing from anyone), and hands each change
//! to a callback. Records an invocation of ecsim published itself — a scenario's `beam_mode`
//! steps, which it has applied already — are told by their `ecsim.run` header and skipped.

use std::{
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use ecsim_proto::{
    common::BeamInfo,
    events::{Event, event::Payload},
    prost::Message as _,
    topics,
};

use crate::{
    RUN_HEADER, Settings,
    consumer::{ReadOptions, Received, read},
};

/// A beam mode change read from the topic.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamUpdate {
    /// What the DIP client wrote.
    pub info: BeamInfo,
    /// Whether it was on the topic before following started: it sets the fill information, and
    /// stops no run.
    pub backlog: bool,
}

/// The thread that follows the topic, until [`BeamModeFollower::stop`].
#[derive(Debug)]
pub struct BeamModeFollower {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BeamModeFollower {
    /// Follows `dip.lhc.beam_mode` on `settings`' cluster from its beginning, calling `each`
    /// with every change not published by the invocation `own_run` (the `ecsim.run` header of
    /// what it publishes), until `each` breaks or the follower is stopped.
    pub fn start(
        settings: Settings,
        own_run: Option<String>,
        mut each: impl FnMut(BeamUpdate) -> ControlFlow<()> + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let options = ReadOptions {
            settings,
            topics: vec![topics::BEAM_MODE.to_owned()],
            from_beginning: true,
            count: None,
            idle: None,
            to_end: false,
            deadline: None,
            timeout: Duration::from_secs(10),
            stop: Some(Arc::clone(&stop)),
        };
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let thread = std::thread::Builder::new()
            .name("ecsim-dip".to_owned())
            .spawn(move || {
                // The backlog comes partition by partition: only a record later than the one
                // kept so far may replace it, so that what is kept is the LHC's latest state.
                let mut latest_backlog = i64::MIN;
                let followed = read(&options, |record| {
                    let Some(info) = update(&record, own_run.as_deref()) else {
                        return ControlFlow::Continue(());
                    };
                    let backlog = match record.timestamp_ms {
                        Some(at) if at < started_ms => {
                            if at < latest_backlog {
                                return ControlFlow::Continue(());
                            }
                            latest_backlog = at;
                            true
                        }
                        _ => false,
                    };
                    each(BeamUpdate { info, backlog })
                });
                if let Err(error) = followed {
                    tracing::warn!(%error, "following dip.lhc.beam_mode stopped: the LHC's state is no longer read from the broker");
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops following and waits for the thread (a tenth of a second at most).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BeamModeFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The beam information a record carries, unless it is not a beam mode event or came from
/// `own_run`.
fn update(record: &Received, own_run: Option<&str>) -> Option<BeamInfo> {
    let ours = record
        .headers
        .iter()
        .any(|(key, value)| key == RUN_HEADER && value.as_deref() == own_run.map(str::as_bytes));
    if ours {
        return None;
    }
    match Event::decode(record.value.as_slice()).ok()?.payload? {
        Payload::BeamModeEvent(event) => event.beam_info,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use ecsim_proto::{common::BeamMode, events::EvBeamModeEvent};

    use super::*;

    fn record(mode: BeamMode, header: Option<&str>) -> Received {
        let event = Event {
            timestamp: 1,
            timestamp_nano: 1_000_000,
            payload: Some(Payload::BeamModeEvent(EvBeamModeEvent {
                timestamp: 1,
                beam_info: Some(BeamInfo {
                    fill_number: 9001,
                    beam_mode: mode.into(),
                    ..Default::default()
                }),
            })),
        };
        Received {
            topic: topics::BEAM_MODE.to_owned(),
            partition: 0,
            offset: 0,
            key: None,
            value: event.encode_to_vec(),
            timestamp_ms: Some(1),
            headers: header
                .map(|run| vec![(RUN_HEADER.to_owned(), Some(run.as_bytes().to_vec()))])
                .unwrap_or_default(),
        }
    }

    #[test]
    fn a_dip_record_gives_its_beam_information_unless_this_invocation_wrote_it() {
        let from_dip = update(&record(BeamMode::BeamDump, None), Some("run-a"));
        assert_eq!(
            from_dip.map(|info| (info.fill_number, info.beam_mode())),
            Some((9001, BeamMode::BeamDump))
        );
        assert!(update(&record(BeamMode::BeamDump, Some("run-a")), Some("run-a")).is_none());
        assert!(update(&record(BeamMode::BeamDump, Some("run-b")), Some("run-a")).is_some());
        let not_an_event = Received {
            value: b"not protobuf at all \xff".to_vec(),
            ..record(BeamMode::StableBeams, None)
        };
        assert!(update(&not_an_event, None).is_none());
    }
}
