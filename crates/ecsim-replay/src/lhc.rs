//! The LHC side of a scenario: beam mode changes as ALICE's LHC client publishes them.
//!
//! ALICE's DIP-to-bookkeeping client (AliDip2BK) writes each beam mode change to
//! `dip.lhc.beam_mode` as an `events.Event` with an `Ev_BeamModeEvent` payload, timestamped in
//! milliseconds (its `timestampNano` is the same instant, in nanoseconds), keyed by the fill
//! number serialized as Kafka's `IntegerSerializer` does (4 bytes, big-endian). AliECS's `lhc`
//! plugin reads it and stops runs on a beam dump (reference §1.8, §3.1).

use ecsim_core::{
    clock::Timestamp,
    publish::{Publisher, Record},
};
use ecsim_proto::{
    common::{BeamInfo, BeamMode},
    events::{EvBeamModeEvent, Event, event::Payload},
    prost::Message as _,
    topics,
};

use ecsim_scenario::model::BeamChange;

/// What the LHC client remembers between changes: when stable beams started in the current fill.
#[derive(Debug, Default)]
pub(crate) struct LhcClient {
    fill_number: i32,
    stable_beams_start: i64,
    stable_beams_end: i64,
}

impl LhcClient {
    /// The record for a beam mode change at `now`, and the beam information it carries.
    pub(crate) fn change(&mut self, change: &BeamChange, now: Timestamp) -> (Record, BeamInfo) {
        let millis = now.unix_millis();
        if change.fill_number != self.fill_number {
            *self = Self {
                fill_number: change.fill_number,
                ..Self::default()
            };
        }
        match change.mode {
            BeamMode::StableBeams => {
                self.stable_beams_start = millis;
                self.stable_beams_end = 0;
            }
            _ if self.stable_beams_start != 0 && self.stable_beams_end == 0 => {
                self.stable_beams_end = millis;
            }
            _ => {}
        }
        let info = BeamInfo {
            stable_beams_start: self.stable_beams_start,
            stable_beams_end: self.stable_beams_end,
            fill_number: change.fill_number,
            filling_scheme_name: change.filling_scheme.clone(),
            beam_type: change.beam_type.clone(),
            beam_mode: change.mode.into(),
        };
        let event = Event {
            timestamp: millis,
            timestamp_nano: millis * 1_000_000,
            payload: Some(Payload::BeamModeEvent(EvBeamModeEvent {
                timestamp: millis,
                beam_info: Some(info.clone()),
            })),
        };
        let record = Record {
            topic: topics::BEAM_MODE.into(),
            key: Some(change.fill_number.to_be_bytes().to_vec()),
            value: event.encode_to_vec(),
            timestamp: now,
            message_type: ecsim_core::publish::MessageType::Event,
        };
        (record, info)
    }

    /// Publishes a change; returns the beam information it carried (what AliECS's `lhc` plugin
    /// learns from it).
    pub(crate) fn publish(
        &mut self,
        change: &BeamChange,
        now: Timestamp,
        publisher: &dyn Publisher,
    ) -> BeamInfo {
        let (record, info) = self.change(change, now);
        publisher.publish(record);
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(mode: BeamMode) -> BeamChange {
        BeamChange {
            mode,
            fill_number: 9001,
            beam_type: "p-p".into(),
            filling_scheme: "scheme".into(),
        }
    }

    #[test]
    fn a_dump_after_stable_beams_carries_both_instants_keyed_by_fill() {
        let mut lhc = LhcClient::default();
        lhc.change(
            &change(BeamMode::StableBeams),
            Timestamp::from_unix_millis(1_000),
        );
        let (record, _) = lhc.change(
            &change(BeamMode::BeamDump),
            Timestamp::from_unix_millis(5_000),
        );
        assert_eq!(record.topic, "dip.lhc.beam_mode");
        assert_eq!(
            record.key,
            Some(vec![0, 0, 0x23, 0x29]),
            "9001 as a big-endian int32"
        );
        let event = Event::decode(record.value.as_slice()).unwrap();
        assert_eq!(
            (event.timestamp, event.timestamp_nano),
            (5_000, 5_000_000_000)
        );
        let Some(Payload::BeamModeEvent(beam)) = event.payload else {
            panic!()
        };
        let info = beam.beam_info.unwrap();
        assert_eq!(
            (info.stable_beams_start, info.stable_beams_end),
            (1_000, 5_000)
        );
        assert_eq!(
            (info.beam_mode(), info.fill_number),
            (BeamMode::BeamDump, 9001)
        );
    }

    #[test]
    fn a_new_fill_starts_afresh() {
        let mut lhc = LhcClient::default();
        lhc.change(
            &change(BeamMode::StableBeams),
            Timestamp::from_unix_millis(1_000),
        );
        let next = BeamChange {
            fill_number: 9002,
            ..change(BeamMode::InjectionProbeBeam)
        };
        let (record, _) = lhc.change(&next, Timestamp::from_unix_millis(9_000));
        let Some(Payload::BeamModeEvent(beam)) =
            Event::decode(record.value.as_slice()).unwrap().payload
        else {
            panic!()
        };
        let info = beam.beam_info.unwrap();
        assert_eq!((info.stable_beams_start, info.stable_beams_end), (0, 0));
    }
}
