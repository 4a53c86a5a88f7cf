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
