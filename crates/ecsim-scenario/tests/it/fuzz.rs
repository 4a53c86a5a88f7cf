//! Random and mutated scenario text never panics the parser or the validator: every input is
//! either a scenario or a list of problems, each pointing inside the text.

use proptest::prelude::*;

/// The example scenarios: the seed corpus the mutations start from.
fn corpus() -> Vec<String> {
    let mut texts = Vec::new();
    for dir in ["../../scenarios", "tests/it/broken"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    texts.sort();
    texts
}

fn check(text: &str) {
    match ecsim_scenario::parse("fuzz.toml", text) {
        Ok(scenario) => {
            assert!(
                scenario.schedule.windows(2).all(|w| w[0].at <= w[1].at),
                "schedule in time order"
            );
        }
        Err(invalid) => {
            assert!(!invalid.problems.is_empty());
            for problem in &invalid.problems {
                assert!(
                    problem.span.end <= text.len(),
                    "span {:?} outside {} bytes",
                    problem.span,
                    text.len()
                );
                assert!(
                    text.is_char_boundary(problem.span.start)
                        && text.is_char_boundary(problem.span.end)
                );
            }
            // Rendering must not panic either, at any width.
            let _ = invalid.render(false, 40);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = prop_oneof![
        Just("\"".to_owned()),
        Just("[[timeline]]\n".to_owned()),
        Just("repeat = 99999999\n".to_owned()),
        Just("count = 3\n".to_owned()),
        Just("= ".to_owned()),
        Just("{i:9999}".to_owned()),
        Just("after = \"-1s\"\n".to_owned()),
        Just("é😀\u{0}".to_owned()),
        Just("steps = [".to_owned()),
        Just("env = \"*\"\n".to_owned()),
        Just("[[fault]]\nservice = \"dcs\"\n".to_owned()),
        Just("outcome = \"partition-error\"\n".to_owned()),
        Just("[[plugin]]\nlibrary = \"\"\n".to_owned()),
        Just("[plugin.config.dcs]\n".to_owned()),
        Just("run = -3\n".to_owned()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0..40_usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), snippet).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 0..200_usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut out = text.to_owned();
    match mutation {
        Mutation::Delete { at, len } => {
            let start = floor_boundary(&out, at % (out.len() + 1));
            let end = floor_boundary(&out, start + len);
            out.replace_range(start..end, "");
        }
        Mutation::Insert { at, text } => {
            let at = floor_boundary(&out, at % (out.len() + 1));
            out.insert_str(at, text);
        }
        Mutation::Duplicate { at, len } => {
            let start = floor_boundary(&out, at % (out.len() + 1));
            let end = floor_boundary(&out, start + len);
            let copy = out[start..end].to_owned();
            out.insert_str(end, &copy);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic(seed in 0..64_usize, mutations in proptest::collection::vec(mutation(), 1..6)) {
        let corpus = corpus();
        let mut text = corpus[seed % corpus.len()].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        check(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }
}
