//! `cargo xtask bench`: every benchmark, and `BENCHMARKS.md` rewritten from what they measured.
//!
//! Each figure is a ratio measured side by side in one run — ecsim against a ceiling or a
//! baseline on the same machine, at the same moment — because absolute numbers on a shared,
//! noisy machine say little. The micro benchmarks run under criterion (`tests/benches/micro.rs`),
//! the end-to-end ones in `ecsim-bench` (`tests/src/bin/ecsim-bench.rs`), against the embedded
//! broker and tansu. The README's "Performance" section is rewritten from the same figures.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::{run, tools};

const BENCHMARKS: &str = "BENCHMARKS.md";
const README: &str = "README.md";
const README_START: &str = "<!-- benchmarks: start (written by cargo xtask bench) -->";
const README_END: &str = "<!-- benchmarks: end -->";
/// Where BENCHMARKS.md's hand-written analysis starts; `cargo xtask bench` keeps it.
const ANALYSIS: &str =
    "<!-- analysis: written by hand from profiles, kept by cargo xtask bench -->";

/// A criterion estimate: the median time of one iteration, in nanoseconds, and the elements
/// one iteration handles.
struct Estimate {
    nanos: f64,
    elements: f64,
}

fn estimate(criterion: &Path, id: &str) -> anyhow::Result<Estimate> {
    let dir = criterion.join(id).join("new");
    let read = |name: &str| -> anyhow::Result<Value> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading criterion's {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let estimates = read("estimates.json")?;
    let benchmark = read("benchmark.json")?;
    let nanos = estimates["median"]["point_estimate"]
        .as_f64()
        .context("no median in criterion's estimates")?;
    let elements = benchmark["throughput"]["Elements"].as_f64().unwrap_or(1.0);
    Ok(Estimate { nanos, elements })
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What the figures were measured on.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0),
        );
    format!(
        "{model}, {cores} cores, {memory} memory; {}; {}",
        output("uname", &["-sr"]),
        output("rustc", &["--version"])
    )
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn f(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// The figures as a Markdown table of goals, with the details below it.
fn render(criterion: &Path, end_to_end: &Value) -> anyhow::Result<(String, String)> {
    let lifecycles = estimate(criterion, "core/lifecycles")?;
    let encode = estimate(criterion, "core/encode-only")?;
    let linked = estimate(criterion, "plugin-call/linked")?;
    let loaded = estimate(criterion, "plugin-call/loaded")?;
    let codec = estimate(criterion, "plugin-call/encoding-only")?;
    let isolated = estimate(criterion, "plugin-call/isolated")?;
    let crossing = estimate(criterion, "plugin-call/crossing-only")?;

    let core_rate = lifecycles.elements / lifecycles.nanos * 1e9;
    let encode_rate = encode.elements / encode.nanos * 1e9;
    let core_ratio = core_rate / encode_rate;
    let call_ratio = loaded.nanos / linked.nanos;

    let mut summary = String::new();
    writeln!(summary, "| figure | measured | goal | |")?;
    writeln!(summary, "|---|---|---|---|")?;
    for publish in end_to_end["publish"].as_array().into_iter().flatten() {
        let ratio = f(&publish["ratio"]);
        writeln!(
            summary,
            "| publish throughput, {} broker: ecsim ÷ bare producer | {ratio:.2} ({:.0} vs {:.0} messages/s; ecsim's publisher alone, the same records: {:.2}) | ≥ 0.9 | {} |",
            publish["broker"].as_str().unwrap_or("?"),
            f(&publish["ecsim_msgs_per_s"]),
            f(&publish["ceiling_msgs_per_s"]),
            f(&publish["publisher_alone_ratio"]),
            verdict(ratio >= 0.9)
        )?;
    }
    let produce_cpu = |name: &str| {
        end_to_end["produce_cpu"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|point| point["broker"].as_str() == Some(name))
            .map(|point| f(&point["cpu_s_per_mib"]))
    };
    if let (Some(embedded), Some(tansu)) = (produce_cpu("embedded"), produce_cpu("tansu")) {
        let ratio = embedded / tansu;
        writeln!(
            summary,
            "| produce, broker CPU per MiB from the same bare producer: embedded ÷ tansu | {ratio:.2} ({:.2} ms vs {:.2} ms a MiB) | ≤ 1.0 | {} |",
            embedded * 1000.0,
            tansu * 1000.0,
            verdict(ratio <= 1.0)
        )?;
    }
    writeln!(
        summary,
        "| core throughput, no broker: messages ÷ encode-only | {core_ratio:.2} ({:.0} vs {:.0} messages/s; {:.0} lifecycles/s) | ≥ 0.5 | {} |",
        core_rate,
        encode_rate,
        core_rate / lifecycles.elements * 10.0,
        verdict(core_ratio >= 0.5)
    )?;
    writeln!(
        summary,
        "| an isolated call ÷ the same library in process | {:.2} ({:.1} µs vs {:.1} µs) | measured | |",
        isolated.nanos / loaded.nanos,
        isolated.nanos / 1000.0,
        loaded.nanos / 1000.0,
    )?;
    writeln!(
        summary,
        "| a call to a loaded plugin ÷ the same plugin linked in | {call_ratio:.2} ({:.1} µs vs {:.1} µs; between them, the encoding {:.1} µs and the crossing {:.1} µs alone) | ≤ 1.5 | {} |",
        loaded.nanos / 1000.0,
        linked.nanos / 1000.0,
        codec.nanos / 1000.0,
        crossing.nanos / 1000.0,
        verdict(call_ratio <= 1.5)
    )?;
    for latency in end_to_end["latency"].as_array().into_iter().flatten() {
        let p99 = f(&latency["p99_ms"]);
        let bare_p99 = f(&latency["bare_p99_ms"]);
        let ratio = p99 / bare_p99;
        let rounds: Vec<String> = latency["round_ratios"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{:.2}", f(r)))
            .collect();
        writeln!(
            summary,
            "| latency, hook moment to acknowledgement, {} broker, {:.0} messages/s: p99 ÷ a bare producer's at the same pace, {} | {ratio:.2} ({}p50 / p99 {:.1} ms / {p99:.1} ms; bare {:.1} ms / {bare_p99:.1} ms) | ≤ 1.2 | {} |",
            latency["broker"].as_str().unwrap_or("?"),
            f(&latency["rate_msgs_per_s"]),
            // Figures written before the rounds (`--reuse` of an older run) have one round.
            match rounds.len() {
                0 | 1 => "one round".to_owned(),
                n => format!("the median of {n} rounds"),
            },
            if rounds.len() > 1 {
                format!("rounds {}; the median's ", rounds.join(", "))
            } else {
                String::new()
            },
            f(&latency["p50_ms"]),
            f(&latency["bare_p50_ms"]),
            verdict(ratio <= 1.2)
        )?;
    }
    for delivery in end_to_end["kafkajs"].as_array().into_iter().flatten() {
        let broker = delivery["broker"].as_str().unwrap_or("?");
        let p99 = f(&delivery["p99_ms"]);
        let (goal, met) = if broker == "embedded" {
            ("p99 ≤ 100 ms", verdict(p99 <= 100.0))
        } else {
            ("—", "")
        };
        writeln!(
            summary,
            "| delivery, record timestamp (hook moment) to a default kafkajs consumer, {broker} broker, real time: p50 / p99 | {:.0} ms / {p99:.0} ms | {goal} | {met} |",
            f(&delivery["p50_ms"]),
        )?;
    }
    for scale in end_to_end["scale"].as_array().into_iter().flatten() {
        let ratio = f(&scale["time_ratio"]);
        let plugin = if scale["kafka_plugin"].as_bool() == Some(true) {
            "Kafka plugin on"
        } else {
            "Kafka plugin off"
        };
        if scale["kafka_plugin"].as_bool() == Some(true) {
            // AliECS's running list makes the bytes grow as the square of the environments:
            // the figure is the time per byte published.
            let per_byte = f(&scale["per_byte_ratio"]);
            writeln!(
                summary,
                "| scale, {plugin}: time per byte published, 10,000 environments ÷ 1,000 | {per_byte:.2} (time ×{ratio:.1} for bytes ×{:.1}; {:.0} KiB per environment) | ≤ 1.1 | {} |",
                f(&scale["bytes_ratio"]),
                f(&scale["kib_per_environment"]),
                verdict(per_byte <= 1.1)
            )?;
        } else {
            writeln!(
                summary,
                "| scale, {plugin}: time for 10,000 environments ÷ for 1,000 | {ratio:.1} ({:.0} KiB per environment) | ≤ 11 | {} |",
                f(&scale["kib_per_environment"]),
                verdict(ratio <= 11.0)
            )?;
        }
    }
    let validation = &end_to_end["validation"];
    if !validation.is_null() {
        let ratio = f(&validation["ratio"]);
        writeln!(
            summary,
            "| validation time, 40,000 steps ÷ 10,000 | {ratio:.2} ({:.0} ms vs {:.0} ms; the TOML parser alone ×{:.2}) | ≤ 4.4 | {} |",
            f(&validation["seconds"][1]) * 1000.0,
            f(&validation["seconds"][0]) * 1000.0,
            f(&validation["toml_ratio"]),
            verdict(ratio <= 4.4)
        )?;
    }
    let creation = &end_to_end["creation"];
    if !creation.is_null() {
        let ratio = f(&creation["ratio"]);
        writeln!(
            summary,
            "| creation of one environment, 10,000 FLPs ÷ 1,000 (three tasks each, Kafka plugin on) | {ratio:.2} ({:.0} ms vs {:.0} ms) | ≤ 11 | {} |",
            f(&creation["seconds"][1]) * 1000.0,
            f(&creation["seconds"][0]) * 1000.0,
            verdict(ratio <= 11.0)
        )?;
    }
    let topics = &end_to_end["topics"];
    if !topics.is_null() {
        let ratio = f(&topics["ecsim_ratio"]);
        writeln!(
            summary,
            "| one record to each of 10,000 topics ÷ 1,000, embedded broker: ecsim's publisher (topics created) | {ratio:.1} ({:.2} s vs {:.2} s; a bare producer ×{:.1}) | ≤ 11 | {} |",
            f(&topics["ecsim_s"][1]),
            f(&topics["ecsim_s"][0]),
            f(&topics["bare_ratio"]),
            verdict(ratio <= 11.0)
        )?;
    }
    let memory = &end_to_end["expectations_memory"];
    if !memory.is_null() {
        let ratio = f(&memory["ratio"]);
        writeln!(
            summary,
            "| peak memory, 10,000 environments: with expectations ÷ without | {ratio:.2} ({:.0} MiB vs {:.0} MiB) | ≤ 1.2 | {} |",
            f(&memory["with_kib"]) / 1024.0,
            f(&memory["without_kib"]) / 1024.0,
            verdict(ratio <= 1.2)
        )?;
    }

    let mut details = String::new();
    writeln!(
        details,
        "### Micro benchmarks (criterion, median of an iteration)\n"
    )?;
    writeln!(
        details,
        "| benchmark | per iteration | elements | per element |"
    )?;
    writeln!(details, "|---|---|---|---|")?;
    for (id, e) in [
        ("core/lifecycles", &lifecycles),
        ("core/encode-only", &encode),
        ("plugin-call/linked", &linked),
        ("plugin-call/loaded", &loaded),
        ("plugin-call/isolated", &isolated),
        ("plugin-call/encoding-only", &codec),
        ("plugin-call/crossing-only", &crossing),
    ] {
        writeln!(
            details,
            "| `{id}` | {:.1} µs | {} | {:.0} ns |",
            e.nanos / 1000.0,
            e.elements,
            e.nanos / e.elements
        )?;
    }
    writeln!(details, "\n### End to end\n")?;
    writeln!(
        details,
        "```json\n{}\n```",
        serde_json::to_string_pretty(end_to_end)?
    )?;
    Ok((summary, details))
}

/// Replaces the README's section between the markers with `section`.
fn update_readme(section: &str) -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(README).context("reading README.md")?;
    let (Some(start), Some(end)) = (readme.find(README_START), readme.find(README_END)) else {
        bail!("README.md has no benchmarks markers ({README_START} … {README_END})");
    };
    let updated = format!(
        "{}{README_START}\n{section}{}",
        &readme[..start],
        &readme[end..]
    );
    std::fs::write(README, updated).context("writing README.md")
}

pub(crate) fn run(reuse: bool) -> anyhow::Result<()> {
    let cargo = run::cargo();
    let tansu = tools::TANSU.ensure()?;
    let envs = [("ECSIM_TANSU", tansu)];
    let json = PathBuf::from("target/bench/end-to-end.json");
    if !reuse {
        measure(&cargo, &envs, &json)?;
    }
    let mut end_to_end: Value = serde_json::from_str(
        &std::fs::read_to_string(&json).context("reading the end-to-end figures")?,
    )?;
    end_to_end["kafkajs"] = kafkajs_delivery(&envs)?;
    let (summary, details) = render(Path::new("target/criterion"), &end_to_end)?;

    let commit = output("git", &["rev-parse", "--short", "HEAD"]);
    let date = output("date", &["-u", "+%Y-%m-%d"]);
    let machine = machine();
    let document = format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` on {date}, at commit {commit}, on: {machine}.\n\n\
         Every figure is a ratio of two things measured side by side in the same run, so that it \
         means the same on a faster or a busier machine. Run `cargo xtask bench` to measure again; \
         it rewrites this file and the README's summary.\n\n\
         ## Summary\n\n{summary}\n\
         ## Method\n\n\
         - **Publish throughput**: a scenario of 200 environments with 3 tasks on their host, 10 runs \
         each (about 150,000 messages), replayed in virtual time to a broker, from the first message \
         to the last acknowledgement; against a bare rdkafka producer configured as ecsim's (acks=all, \
         idempotence, linger 1 ms) sending the same records, already encoded, to the same broker, its \
         first message untimed as ecsim's producer is warm; and, between them, ecsim's publisher \
         alone, handed the same records made before its clock starts (what of the loss is the \
         publishing path, what the simulation beside it). Five alternating rounds; the medians. \
         Loopback; the embedded broker (ecsim-broker) and tansu.\n\
         - **Produce CPU**: the same records (about 50 MiB) sent by the same bare producer to each \
         broker, five times; the broker's CPU time (user and system, from /proc: the embedded \
         broker's thread, tansu's process) per MiB, the median.\n\
         - **Core throughput**: ten environments through create, one run, destroy, with a publisher \
         that keeps nothing; against encoding the same messages and nothing else (criterion).\n\
         - **Plugin call**: `example.StartOfRun()` to the example plugin loaded from its library (C ABI, \
         protobuf both ways, the instance's own thread), against the same plugin linked into the \
         benchmark and called through the same request and reply handling; and the protobuf encoding \
         and decoding alone, and the crossing alone (the request's bytes to an instance's thread \
         whose table answers with them: the same channels and copies, no encoding, no work) \
         (criterion).\n\
         - **Latency**: 20 environments, 2 runs each, replayed at 100 times real time; from the moment \
         the core emits a message (publishing is synchronous with the hook moment) to the broker's \
         acknowledgement, every message (HDR histogram); measured on each broker before the \
         throughput runs load it. Beside it, a bare producer sending the same records at the same \
         pace (their simulated times divided by 100) to the same broker: the broker's own share. \
         Three rounds of both on each broker; the figure is the median round's ratio, and the \
         row lists every round's (a p99 of some 6,000 messages is their 63rd slowest, and moves \
         from round to round on two shared cores).\n\
         - **Scale**: 1,000 and 10,000 environments alive at once, one run each, no broker, each \
         replay in a process of its own, five per size alternating with the other size, the median time; the peak resident memory \
         (VmHWM) gives the memory per environment. With the Kafka plugin on, every state change publishes the list of running \
         environments, whose length grows with their number: the bytes to publish grow as the square \
         of the environments (AliECS's behaviour), so that figure is the time per byte published \
         (record values).\n\
         - **Validation**: `ecsim_scenario::parse` of generated timelines of 10,000 and 40,000 steps \
         (100 environments started and stopped in turn), five each alternating, the median.\n\
         - **Memory with expectations**: 10,000 environments (Kafka plugin on, one run each) replayed \
         with and without two expectations checked live (one reads every `aliecs.environment` \
         message), three processes each, the median peak resident memory.\n\
         - **Creation**: one `readout-dataflow` environment of 1,000 and of 10,000 FLPs (three tasks \
         each, task steps instantaneous, the Kafka plugin on, a publisher that keeps nothing) \
         created by a core in virtual time, as `ecsim serve` creates one: five each alternating, the \
         median; creation linear in its hosts makes the ratio 10.\n\
         - **Topics**: one record to each of 1,000 and of 10,000 distinct topics, on a fresh \
         embedded broker each time: ecsim's publisher from the topics' creation to the last \
         acknowledgement (what `replay` does with a recording of that many topics), and a bare \
         producer to the same topics already made; five each, the median.\n\n\
         ## Details\n\n{details}"
    );
    // The analysis of the gaps is written by people, from profiles: kept as it is.
    let analysis = std::fs::read_to_string(BENCHMARKS)
        .ok()
        .and_then(|old| old.find(ANALYSIS).map(|at| old[at..].to_owned()))
        .unwrap_or_else(|| {
            format!("{ANALYSIS}\n\n## Where a goal is not met\n\n(to be written)\n")
        });
    std::fs::write(BENCHMARKS, format!("{document}\n{analysis}"))
        .context("writing BENCHMARKS.md")?;
    update_readme(&format!(
        "Measured on {date} ({machine}); details and method in [BENCHMARKS.md](BENCHMARKS.md).\n\n{summary}"
    ))?;
    println!("{summary}");
    println!("wrote {BENCHMARKS} and the README's summary");
    Ok(())
}

/// Runs the criterion benchmarks and the end-to-end ones, which write `json`.
fn measure(cargo: &str, envs: &[(&'static str, PathBuf)], json: &Path) -> anyhow::Result<()> {
    // The loaded plugin of the plugin-call benchmark, and the ecsim that hosts it isolated, in
    // the profile the benchmarks run in.
    run::checked(
        cargo,
        &[
            "build",
            "--release",
            "-p",
            "ecsim-example-plugin",
            "-p",
            "ecsim",
        ],
    )?;
    let host = std::fs::canonicalize("target/release/ecsim").context("the release ecsim")?;
    let micro_envs = [envs[0].clone(), ("ECSIM_HOST_BIN", host)];
    run::checked_env(
        cargo,
        &["bench", "-p", "ecsim-e2e", "--bench", "micro"],
        &micro_envs,
    )?;
    if let Some(dir) = json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = json.to_str().context("the figures' path is not UTF-8")?;
    run::checked_env(
        cargo,
        &[
            "run",
            "--release",
            "-p",
            "ecsim-e2e",
            "--bin",
            "ecsim-bench",
            "--",
            "all",
            "--json",
            json,
        ],
        envs,
    )?;
    Ok(())
}

/// The client test of kafkajs on each broker, run alone (one test at a time), its printed
/// figures read back: from each record's timestamp — the moment the core published it, in a
/// real-time run with epoch "now" — to kafkajs handing it to the application.
fn kafkajs_delivery(envs: &[(&'static str, PathBuf)]) -> anyhow::Result<Value> {
    let mut envs = envs.to_vec();
    envs.extend(crate::clients::ensure()?);
    let cargo = run::cargo();
    let args = [
        "test",
        "-p",
        "ecsim",
        "--test",
        "it",
        "clients::kafkajs_consumes",
        "--",
        "--nocapture",
        "--test-threads=1",
    ];
    println!("$ {cargo} {}", args.join(" "));
    let out = Command::new(&cargo)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .output()
        .context("running the kafkajs client tests")?;
    if !out.status.success() {
        bail!(
            "the kafkajs client tests failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // "Kafkajs on embedded: 288 messages, record timestamp → delivered p50 6 ms, p99 17 ms, max 17 ms"
    let stdout = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<Value> = stdout
        .lines()
        .filter_map(|line| {
            // cargo test prints a test's output after its name on the same line.
            let rest = &line[line.find("Kafkajs on ")? + "Kafkajs on ".len()..];
            let (broker, rest) = rest.split_once(':')?;
            let number = |label: &str| -> Option<f64> {
                let at = rest.find(label)? + label.len();
                rest[at..].split_whitespace().next()?.parse().ok()
            };
            Some(serde_json::json!({
                "broker": broker,
                "p50_ms": number("p50 ")?,
                "p99_ms": number("p99 ")?,
                "max_ms": number("max ")?,
            }))
        })
        .collect();
    if figures.len() != 2 {
        bail!("expected the figures of two brokers from the kafkajs client tests:\n{stdout}");
    }
    Ok(Value::Array(figures))
}
