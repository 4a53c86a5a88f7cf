//! The text of the command line's numeric and time arguments, through the parsers the CLI uses:
//! durations (`--connect-timeout`, `--timing STEP=DUR`), epochs (`--epoch`), speeds
//! (`--speed`), Kafka properties (`-X`). Each accepts or refuses; none panics, and what is
//! accepted stays within its documented range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ecsim_core::duration::parse_go_duration(text);
    if let Some((step, duration)) = text.split_once('=') {
        let mut timing = ecsim_core::Timing::default();
        if let (Some(slot), Some(duration)) = (
            timing.step_mut(step),
            ecsim_core::duration::parse_go_duration(duration),
        ) {
            *slot = duration;
        }
    }
    if let Some(epoch) = ecsim_scenario::parse_epoch(text) {
        let _ = epoch <= ecsim_scenario::LATEST_EPOCH;
    }
    if let Ok(factor) = text.parse::<f64>()
        && let Ok(ecsim_scenario::Speed::Factor(speed)) = ecsim_scenario::Speed::from_factor(factor)
    {
        assert!((ecsim_scenario::Speed::MIN..=ecsim_scenario::Speed::MAX).contains(&speed));
        // What the clock does with it: neither may panic within the range.
        let simulated = std::time::Duration::from_secs(87_600 * 3600);
        let _ = simulated.div_f64(speed);
        let _ = simulated.mul_f64(speed);
    }
    let _ = text.parse::<ecsim_kafka::settings::Property>();
});
