//! Every file in `tests/it/broken/` has something wrong with it; each gets a clear report that
//! names the file, line and column, pinned by a snapshot (read when accepted).

#[test]
fn broken_scenarios_are_refused_with_file_line_and_column() {
    insta::glob!("broken/*.toml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = format!("broken/{}", path.file_name().unwrap().to_string_lossy());
        let error =
            ecsim_scenario::parse(&name, &text).expect_err("a broken scenario must be refused");
        assert!(!error.problems.is_empty());
        let rendered = error.render(false, 100);
        assert!(
            rendered.contains(&format!("[{name}:")),
            "the report names the file:\n{rendered}"
        );
        insta::assert_snapshot!(format!("{rendered}\n{error}"));
    });
}

#[test]
fn all_problems_of_a_file_are_reported_at_once() {
    let text = std::fs::read_to_string("tests/it/broken/21-several-problems.toml").unwrap();
    let error = ecsim_scenario::parse("several.toml", &text).unwrap_err();
    let messages: Vec<&str> = error.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages[0].contains("seed"));
    assert!(messages[1].contains("tasks_per_host"));
    assert!(messages[2].contains("`soon` is not a duration"));
    assert!(messages[3].contains("no environment is called `nobody`"));
}

#[test]
fn one_root_cause_is_reported_once() {
    // A bad `func` refuses its environment; the steps and the expectation that name it are not
    // reported again as "no environment is called `physics`".
    let text = std::fs::read_to_string("tests/it/broken/31-one-cause-said-once.toml").unwrap();
    let error = ecsim_scenario::parse("one.toml", &text).unwrap_err();
    let messages: Vec<&str> = error.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        ["`dcs.StartOfRun` is not a plugin function call"],
        "{messages:?}"
    );
    // A name that is not there at all is still reported.
    let typo = text.replace(
        "env = \"physics\"\ndo = \"stop\"",
        "env = \"phisics\"\ndo = \"stop\"",
    );
    let error = ecsim_scenario::parse("typo.toml", &typo).unwrap_err();
    assert!(
        error
            .problems
            .iter()
            .any(|p| p.message == "no environment is called `phisics`"),
        "{:?}",
        error.problems
    );
}
