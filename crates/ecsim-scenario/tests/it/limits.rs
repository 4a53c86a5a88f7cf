//! The validator's limits and its cost (issue 16's findings): whatever a file asks for, the
//! expanded scenario is bounded, each limit is a clear problem at the place that passes it, and
//! validation time grows with the file, not with its square.

use std::time::{Duration, Instant};

use ecsim_scenario::{Action, Scenario};

fn parse(text: &str) -> Result<Scenario, String> {
    ecsim_scenario::parse("limits.toml", text).map_err(|invalid| {
        invalid
            .problems
            .iter()
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn refused(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(problems) => problems,
    }
}

const HEADER: &str = "[scenario]\nname = \"limits\"\nown_detectors = true\n";

#[test]
fn a_template_width_over_65535_is_a_problem_not_a_panic() {
    let text = format!(
        "{HEADER}[[environment]]\nname = \"e{{i:070000}}\"\ncount = 2\ndetectors = [\"D{{i}}\"]\n"
    );
    let problems = refused(&text);
    assert!(
        problems.contains("`{i:070000}` pads the index to 70000 digits; at most 10"),
        "{problems}"
    );
}

#[test]
fn a_152_byte_file_cannot_ask_for_gigabytes_of_names() {
    // {i:060000} × 100,000 environments was 6 GB of names before the width was checked.
    let text = format!(
        "{HEADER}[[environment]]\nname = \"e{{i:060000}}\"\ncount = 100000\ndetectors = [\"D{{i}}\"]\n"
    );
    assert!(text.len() < 160);
    let problems = refused(&text);
    assert!(
        problems.contains("pads the index to 60000 digits"),
        "{problems}"
    );
    // And a long name, written out, is refused before it is copied `count` times.
    let long = "x".repeat(300);
    let problems = refused(&format!(
        "{HEADER}[[environment]]\nname = \"{long}{{i}}\"\ncount = 100000\ndetectors = [\"D{{i}}\"]\n"
    ));
    assert!(
        problems.contains("a name is at most 253 bytes; this one is 303"),
        "{problems}"
    );
}

/// `count` environments named `env-{i}`, each with its own detector.
fn environments(count: usize) -> String {
    format!("[[environment]]\nname = \"env-{{i}}\"\ncount = {count}\ndetectors = [\"D{{i}}\"]\n\n")
}

#[test]
fn the_environment_limit_counts_every_definition() {
    let text = format!(
        "{HEADER}{}{}",
        environments(60_000),
        environments(60_000)
            .replace("env-", "other-")
            .replace("D{i}", "O{i}")
    );
    let problems = refused(&text);
    assert!(
        problems.contains("the scenario defines more than 100000 environments in all"),
        "{problems}"
    );
}

#[test]
fn hosts_and_tasks_have_limits_in_all() {
    let hosts: Vec<String> = (0..1000).map(|h| format!("\"flp{h}-{{i}}\"")).collect();
    let text = format!(
        "{HEADER}[[environment]]\nname = \"env-{{i}}\"\ncount = 300\ndetectors = [\"D{{i}}\"]\nhosts = [{}]\ntasks_per_host = 1\n",
        hosts.join(", ")
    );
    let problems = refused(&text);
    assert!(
        problems.contains("the scenario's environments have more than 200000 hosts in all"),
        "{problems}"
    );
    let text = format!(
        "{HEADER}[[environment]]\nname = \"env-{{i}}\"\ncount = 2\ndetectors = [\"D{{i}}\"]\nhosts = [{}]\ntasks_per_host = 1000\n",
        hosts.join(", ")
    );
    let problems = refused(&text);
    assert!(
        problems.contains("the scenario's environments have more than 1000000 tasks in all"),
        "{problems}"
    );
}

#[test]
fn the_step_limit_counts_steps_outside_repeated_blocks_too() {
    // Eleven plain steps, each addressing 100,000 environments: 1.1 million steps, with no
    // `repeat` in the file (it expanded to 2·10⁷ steps before the limit covered this).
    let mut text = format!("{HEADER}{}", environments(100_000));
    text.push_str("[[timeline]]\nat = \"0s\"\nenv = \"env-*\"\ndo = \"create\"\n\n");
    for _ in 0..5 {
        text.push_str("[[timeline]]\nafter = \"1m\"\nenv = \"env-*\"\ndo = \"start\"\n\n");
        text.push_str("[[timeline]]\nafter = \"1m\"\nenv = \"env-*\"\ndo = \"stop\"\n\n");
    }
    assert!(text.len() < 10_000);
    let problems = refused(&text);
    assert!(
        problems.contains("the timeline expands to more than 1000000 steps"),
        "{problems}"
    );
}

#[test]
fn a_timeline_lasts_at_most_ten_years_and_starts_before_2200() {
    let env = environments(1);
    let late = format!(
        "{HEADER}{env}[[timeline]]\nat = \"0s\"\nenv = \"env-1\"\ndo = \"create\"\n\n[[timeline]]\nrepeat = 100\nenv = \"env-1\"\nsteps = [{{ after = \"80000h\", do = \"wait\" }}]\n"
    )
    .replace("do = \"wait\" }]", "do = \"start\" }, { after = \"1h\", do = \"stop\" }]");
    let problems = refused(&late);
    assert!(
        problems.contains("after the start; a timeline lasts at most 87600h (10 years)"),
        "{problems}"
    );
    let long = format!(
        "{HEADER}{env}[[timeline]]\nat = \"0s\"\nenv = \"env-1\"\ndo = \"create\"\n\n[[timeline]]\nafter = \"2000000h\"\nenv = \"env-1\"\ndo = \"start\"\n"
    );
    let problems = refused(&long);
    assert!(
        problems.contains("a delay is at most 87600h (10 years); this one is"),
        "{problems}"
    );
    let timing = format!(
        "{HEADER}[[environment]]\nname = \"slow\"\ndetectors = [\"ITS\"]\ntiming = {{ deploy = \"1000000h\" }}\n"
    );
    let problems = refused(&timing);
    assert!(
        problems.contains("a duration is at most 87600h (10 years)"),
        "{problems}"
    );
    let epoch = HEADER.replace("[scenario]\n", "[scenario]\nepoch = 2250-01-01T00:00:00Z\n");
    let problems = refused(&epoch);
    assert!(
        problems.contains("the epoch is after 2200-01-01"),
        "{problems}"
    );
}

#[test]
fn the_speed_is_0_or_within_range() {
    for speed in ["1e-300", "1e300", "-1", "0.0001", "2000000.0"] {
        let text = HEADER.replace("[scenario]\n", &format!("[scenario]\nspeed = {speed}\n"));
        let problems = refused(&text);
        assert!(
            problems.contains("the speed must be 0 (virtual time) or between 0.001 and 1000000"),
            "{speed}: {problems}"
        );
    }
    for speed in ["0", "0.001", "1", "1000000"] {
        let text = HEADER.replace("[scenario]\n", &format!("[scenario]\nspeed = {speed}\n"));
        assert!(parse(&text).is_ok(), "{speed}");
    }
}

#[test]
fn stagger_on_a_repeated_block_spreads_each_of_its_steps() {
    // As scenarios/many-environments.toml asks: each environment's runs 7 s after the
    // previous environment's — not only its creation.
    let text = format!(
        "{HEADER}{}[[timeline]]\nat = \"0s\"\nenv = \"env-*\"\ndo = \"create\"\nstagger = \"2s\"\n\n[[timeline]]\nafter = \"2m\"\nenv = \"env-*\"\nstagger = \"7s\"\nrepeat = 2\nsteps = [{{ do = \"start\" }}, {{ after = \"15m\", do = \"stop\" }}]\n",
        environments(3)
    );
    let scenario = parse(&text).unwrap();
    let at = |env: &str, nth_start: usize| {
        scenario
            .schedule
            .iter()
            .filter(|s| s.environment.as_deref() == Some(env))
            .filter(|s| matches!(s.action, Action::Transition(t) if t.as_str() == "START_ACTIVITY"))
            .nth(nth_start)
            .map(|s| s.at)
            .unwrap()
    };
    let minutes = |m: u64| Duration::from_secs(m * 60);
    assert_eq!(at("env-1", 0), minutes(2));
    assert_eq!(at("env-2", 0), minutes(2) + Duration::from_secs(7));
    assert_eq!(at("env-3", 0), minutes(2) + Duration::from_secs(14));
    // The second round starts when the first stops: 17 min, staggered the same.
    assert_eq!(at("env-3", 1), minutes(17) + Duration::from_secs(14));
    // A step of the block may say otherwise.
    let own = text.replace("{ do = \"start\" }", "{ do = \"start\", stagger = \"0s\" }");
    let scenario = parse(&own).unwrap();
    let starts: Vec<Duration> = scenario
        .schedule
        .iter()
        .filter(|s| matches!(s.action, Action::Transition(t) if t.as_str() == "START_ACTIVITY"))
        .map(|s| s.at)
        .take(3)
        .collect();
    assert_eq!(starts, [minutes(2); 3]);
}

/// A timeline of `steps` steps: environments created, then started and stopped in turn.
fn timeline(steps: usize) -> String {
    let mut text = format!("{HEADER}{}", environments(100));
    text.push_str("[[timeline]]\nat = \"0s\"\nenv = \"env-*\"\ndo = \"create\"\n\n");
    for n in 0..(steps - 100) / 2 {
        let env = n % 100 + 1;
        text.push_str(&format!(
            "[[timeline]]\nafter = \"1m\"\nenv = \"env-{env}\"\ndo = \"start\"\n\n[[timeline]]\nafter = \"1m\"\nenv = \"env-{env}\"\ndo = \"stop\"\n\n"
        ));
    }
    text
}

/// The fastest of three validations of `text`, which must be valid.
fn validation_time(text: &str) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let scenario = parse(text).unwrap();
            assert!(!scenario.schedule.is_empty());
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[test]
fn validation_time_grows_with_the_file_not_its_square() {
    // Four times the steps: four times the time when linear, sixteen when quadratic (each step
    // counted the lines from the top: 40,000 steps took over two minutes). 8 leaves room for a
    // noisy machine and none for a square.
    let small = validation_time(&timeline(10_000));
    let large = validation_time(&timeline(40_000));
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    assert!(
        ratio < 8.0,
        "10,000 steps {small:?}, 40,000 steps {large:?}: ratio {ratio:.1}"
    );
    // The same for one repeated block in a small file, where each expanded step asked for its
    // line (a 10 KB file took over 150 s).
    let block = |repeat: usize| {
        format!(
            "{HEADER}{}[[timeline]]\nat = \"0s\"\nenv = \"env-1\"\ndo = \"create\"\n\n[[timeline]]\nrepeat = {repeat}\nenv = \"env-1\"\nsteps = [{{ after = \"1m\", do = \"start\" }}, {{ after = \"1m\", do = \"stop\" }}]\n",
            environments(1)
        )
    };
    let small = validation_time(&block(25_000));
    let large = validation_time(&block(100_000));
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    assert!(
        ratio < 8.0,
        "50,000 steps {small:?}, 200,000 steps {large:?}: ratio {ratio:.1}"
    );
}
