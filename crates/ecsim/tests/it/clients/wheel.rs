//! ecsim from pip: the wheel `cargo xtask test` builds (`python/`, maturin) and installs into a
//! fresh virtual environment, used as a Python developer uses it — its pytest fixtures start the
//! `ecsim` command the wheel installed, confluent-kafka and kafka-python consumers at their
//! defaults read a scenario's run through them (`python/tests`).

use std::process::Command;

/// The wheel's pytest suite passes, every test of it run (none skipped), with the environment's
/// own `ecsim` (no `ECSIM` override, no cargo-built binary on `PATH`).
#[test]
#[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
fn the_wheels_pytest_fixtures_serve_python_consumer_tests() {
    let Some(python) = std::env::var_os("ECSIM_WHEEL_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_WHEEL_PYTHON is set by `cargo xtask test`, which builds and installs the wheel"
        );
        println!("skipped: the wheel is not built (run `cargo xtask test`)");
        return;
    };
    let out = Command::new(python)
        .args([
            "-m",
            "pytest",
            "python/tests",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            "-rs",
            "-q",
        ])
        .current_dir("../..")
        .env_remove("ECSIM")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("6 passed") && !summary.contains("skipped"),
        "every test of python/tests ran and passed: {summary}"
    );
}
