//! Scenario text, parsed and validated: every input is a scenario or problems that point inside
//! the text, and rendering them never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ecsim_scenario::parse("fuzz.toml", text) {
        Ok(scenario) => {
            assert!(scenario.schedule.windows(2).all(|w| w[0].at <= w[1].at));
        }
        Err(invalid) => {
            assert!(!invalid.problems.is_empty());
            for problem in &invalid.problems {
                assert!(problem.span.end <= text.len());
                assert!(text.is_char_boundary(problem.span.start));
                assert!(text.is_char_boundary(problem.span.end));
            }
            let _ = invalid.render(false, 60);
        }
    }
});
