//! The client × feature matrix of `docs/consumers.md`: each mainstream client, with its default
//! settings but for what a feature needs, tries every feature against the embedded broker and
//! against tansu, each on a topic of its own, and says per feature whether it worked
//! (`tests/clients/features.py`, `features.js`, `sarama/features.go`; kcat is driven from here).
//!
//! On the embedded broker every cell of [`MATRIX`] must hold. On tansu, a broker ecsim does not
//! make, the cells that are the consumer's bread and butter must ([`ESSENTIAL`]); the rest are
//! printed, for the record.
//!
//! The clients are installed by `cargo xtask test` (`ECSIM_CLIENTS`, `ECSIM_PYTHON`,
//! `ECSIM_NODE`, `ECSIM_KCAT`, `ECSIM_SARAMA`); without them a test is skipped with a message —
//! except in CI (`CI` set), where it fails.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a cell's outcome, and a skip, are said
use std::{
    collections::BTreeMap,
    ffi::OsString,
    path::PathBuf,
    process::{Command, Output, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use ecsim_e2e::brokers::Broker;
use ecsim_kafka::TopicLayout;
use serde_json::Value;

/// Every client and the features it must have on the embedded broker.
const MATRIX: &[(&str, &[&str])] = &[
    (
        "confluent-kafka",
        &[
            PRODUCE,
            CONSUME,
            COMMIT,
            SEEK,
            COMPRESSION,
            STATIC,
            REPLICATION,
            TRANSACTIONS,
        ],
    ),
    (
        "kafka-python",
        &[
            PRODUCE,
            CONSUME,
            COMMIT,
            SEEK,
            COMPRESSION,
            REPLICATION,
            TRANSACTIONS,
        ],
    ),
    (
        "aiokafka",
        &[
            PRODUCE,
            CONSUME,
            COMMIT,
            SEEK,
            COMPRESSION,
            REPLICATION,
            TRANSACTIONS,
        ],
    ),
    (
        "kafkajs",
        &[
            PRODUCE,
            CONSUME,
            COMMIT,
            SEEK,
            COMPRESSION,
            REPLICATION,
            TRANSACTIONS,
        ],
    ),
    (
        "sarama",
        &[
            OLD_FORMAT,
            PRODUCE,
            CONSUME,
            COMMIT,
            SEEK,
            COMPRESSION,
            REPLICATION,
        ],
    ),
    (
        "kcat",
        &[PRODUCE, CONSUME, COMMIT, SEEK, COMPRESSION, STATIC],
    ),
    // No consumer groups in rskafka: it reads partitions by offset.
    ("rskafka", &[PRODUCE, FETCH, SEEK, COMPRESSION, REPLICATION]),
];

const PRODUCE: &str = "produce";
const CONSUME: &str = "consume in a group";
const FETCH: &str = "consume a partition";
const COMMIT: &str = "commit and resume";
const SEEK: &str = "seek by time";
const COMPRESSION: &str = "compression";
const STATIC: &str = "static membership";
const REPLICATION: &str = "replication factor refused";
const TRANSACTIONS: &str = "transactions refused";
const OLD_FORMAT: &str = "default version refused";

/// What is tried and must hold on tansu (those of them a client has): a client connects,
/// produces and reads back. Not the rest, which tansu 0.6 does otherwise than Kafka (seen with
/// these probes): a ListOffsets by time answers the partition's first offset, a replication
/// factor of 3 and transactions are granted, a restarted static member waits a minute, and
/// confluent-kafka's explicit commit is not resumed from.
const ESSENTIAL: &[&str] = &[PRODUCE, CONSUME, FETCH];

/// Essential cells that fail on tansu for a reason of tansu's and that client's: sarama 1.22's
/// consumer group gets no message from tansu 0.6 in a minute (it does from the embedded broker).
const TANSU_EXCEPTIONS: &[(&str, &str)] = &[("sarama", CONSUME)];

/// One feature's outcome: worked, and what the client said.
type Cells = BTreeMap<String, (bool, String)>;

fn installed(variable: &str) -> Option<OsString> {
    let value = std::env::var_os(variable);
    if value.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{variable} is not set: `cargo xtask test` installs the clients"
        );
        eprintln!("skipped: {variable} is not set (`cargo xtask test` installs the clients)");
    }
    value
}

/// Runs a probe that prints one JSON line a feature.
fn probe(mut command: Command, bootstrap: &str) -> Cells {
    command
        .env("ECSIM_BOOTSTRAP", bootstrap)
        .stdin(Stdio::null());
    let output = command.output().expect("the probe starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cells: Cells = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|line| {
            (
                line["feature"].as_str().unwrap_or_default().to_owned(),
                (
                    line["ok"].as_bool().unwrap_or(false),
                    line["detail"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect();
    assert!(
        !cells.is_empty(),
        "the probe said nothing ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    cells
}

fn client_cells(client: &str, broker: &Broker) -> Option<Cells> {
    let clients = || installed("ECSIM_CLIENTS").map(PathBuf::from);
    let bootstrap = &broker.bootstrap();
    // On tansu, the essential features, but for those that fail there for tansu's reasons.
    let only: Vec<&str> = match broker {
        Broker::Embedded(_) => Vec::new(),
        Broker::Tansu(_) => ESSENTIAL
            .iter()
            .filter(|feature| !TANSU_EXCEPTIONS.contains(&(client, **feature)))
            .copied()
            .collect(),
    };
    let probe = |mut command: Command| {
        command.env("ECSIM_FEATURES", only.join(","));
        probe(command, bootstrap)
    };
    match client {
        "kcat" => Some(kcat(&installed("ECSIM_KCAT")?, broker, &only)),
        "rskafka" => Some(rskafka(bootstrap)),
        "sarama" => Some(probe(Command::new(installed("ECSIM_SARAMA")?))),
        "kafkajs" => {
            let dir = clients()?;
            let mut command = Command::new(installed("ECSIM_NODE")?);
            command.arg(dir.join("features.js")).current_dir(dir);
            Some(probe(command))
        }
        python => {
            let dir = clients()?;
            let mut command = Command::new(installed("ECSIM_PYTHON")?);
            command
                .arg(dir.join("features.py"))
                .arg(python)
                .current_dir(dir);
            Some(probe(command))
        }
    }
}

fn check(client: &str, broker: &Broker) {
    let Some(cells) = client_cells(client, broker) else {
        return;
    };
    let (_, expected) = MATRIX
        .iter()
        .find(|(name, _)| *name == client)
        .expect("a client of the matrix");
    let required: Vec<&str> = match broker {
        Broker::Embedded(_) => expected.to_vec(),
        Broker::Tansu(_) => expected
            .iter()
            .filter(|feature| ESSENTIAL.contains(feature))
            .filter(|feature| !TANSU_EXCEPTIONS.contains(&(client, **feature)))
            .copied()
            .collect(),
    };
    for (feature, (ok, detail)) in &cells {
        println!(
            "{client} on {}: {feature}: {} {detail}",
            broker.name(),
            if *ok { "yes" } else { "no" }
        );
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|feature| !cells.get(**feature).is_some_and(|(ok, _)| *ok))
        .map(|feature| format!("{feature}: {:?}", cells.get(*feature)))
        .collect();
    assert!(
        missing.is_empty(),
        "{client} on {}: {missing:#?}",
        broker.name()
    );
}

fn on_both(client: &str) {
    check(client, &Broker::embedded());
    match Broker::tansu() {
        Some(tansu) => check(client, &tansu),
        None => assert!(std::env::var_os("CI").is_none(), "tansu is not installed"),
    }
}

#[test]
fn confluent_kafka_has_every_feature() {
    on_both("confluent-kafka");
}

#[test]
fn kafka_python_has_every_feature() {
    on_both("kafka-python");
}

#[test]
fn aiokafka_has_every_feature() {
    on_both("aiokafka");
}

#[test]
fn kafkajs_has_every_feature() {
    on_both("kafkajs");
}

#[test]
fn sarama_has_every_feature_with_its_version_set() {
    on_both("sarama");
}

#[test]
fn kcat_has_every_feature() {
    on_both("kcat");
}

#[test]
fn rskafka_has_every_feature() {
    on_both("rskafka");
}

// --- kcat, driven from here --------------------------------------------------------------------

const COUNT: usize = 10;

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{nanos:08x}")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// kcat with `args`, stdin `input`, at most 60 s.
fn kcat_run(kcat: &OsString, bootstrap: &str, args: &[&str], input: &str) -> Output {
    let mut command = Command::new("timeout");
    command
        .arg("60")
        .arg(kcat)
        .args(["-b", bootstrap, "-q"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("kcat starts");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("kcat ends")
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn records(from: usize, to: usize) -> String {
    (from..to).map(|i| format!("env-{i}:value-{i}\n")).collect()
}

fn expected_lines(from: usize, to: usize) -> Vec<String> {
    (from..to)
        .map(|i| format!("{i} env-{i} value-{i} h=x"))
        .collect()
}

const FORMAT: &str = "%o %k %s %h\\n";

fn kcat(kcat: &OsString, broker: &Broker, only: &[&str]) -> Cells {
    let wanted = |feature: &str| only.is_empty() || only.contains(&feature);
    let bootstrap = &broker.bootstrap();
    let topic = unique("features");
    let codecs = ["gzip", "snappy", "lz4"];
    let codec_topics: Vec<String> = codecs.iter().map(|codec| unique(codec)).collect();
    // kcat has no admin: its topics are made here (not every broker creates them on demand).
    let mut topics = codec_topics.clone();
    topics.push(topic.clone());
    drop(broker.publisher(TopicLayout::default(), &topics, Duration::from_secs(30)));
    let mut cells = Cells::new();
    let mut cell = |feature: &str, result: Result<String, String>| {
        let (ok, detail) = match result {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        cells.insert(feature.to_owned(), (ok, detail));
    };
    let produce = |topic: &str, from: usize, to: usize, codec: &str| {
        let output = kcat_run(
            kcat,
            bootstrap,
            &["-P", "-t", topic, "-K", ":", "-H", "h=x", "-z", codec],
            &records(from, to),
        );
        if output.status.success() {
            Ok(String::new())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    };
    // Seven records, a moment, then three: the moment between is what seek by time looks for.
    let first = produce(&topic, 0, 7, "none");
    std::thread::sleep(Duration::from_millis(50));
    let between = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    cell(
        PRODUCE,
        first.and_then(|_| produce(&topic, 7, COUNT, "none")),
    );

    let group_read = |group: &str, count: usize, extra: &[&str]| {
        let count = count.to_string();
        let mut args = vec![
            "-G",
            group,
            "-X",
            "auto.offset.reset=earliest",
            "-c",
            &count,
            "-f",
            FORMAT,
        ];
        args.extend_from_slice(extra);
        args.push(&topic);
        lines(&kcat_run(kcat, bootstrap, &args, ""))
    };
    let got = group_read(&unique("g"), COUNT, &[]);
    cell(
        CONSUME,
        (got == expected_lines(0, COUNT))
            .then(String::new)
            .ok_or(format!("{got:?}")),
    );

    if !wanted(COMMIT) {
        return cells;
    }
    // kcat commits what it consumed when it exits (auto-commit on close).
    let group = unique("g");
    let _ = group_read(&group, 6, &[]);
    let resumed = group_read(&group, 1, &[]);
    cell(
        COMMIT,
        (resumed == expected_lines(6, 7))
            .then(String::new)
            .ok_or(format!("resumed with {resumed:?}")),
    );

    let queried = lines(&kcat_run(
        kcat,
        bootstrap,
        &["-Q", "-t", &format!("{topic}:0:{between}")],
        "",
    ));
    cell(
        SEEK,
        queried
            .iter()
            .any(|line| line.ends_with("offset 7"))
            .then(String::new)
            .ok_or(format!("{queried:?}")),
    );

    // Debian's librdkafka is built without zstd.
    let mut compression = Ok("gzip, snappy, lz4".to_owned());
    for (codec, topic) in codecs.iter().zip(&codec_topics) {
        let read = produce(topic, 0, COUNT, codec).map(|_| {
            lines(&kcat_run(
                kcat,
                bootstrap,
                &["-C", "-t", topic, "-o", "beginning", "-e", "-f", FORMAT],
                "",
            ))
        });
        if read.as_ref().ok() != Some(&expected_lines(0, COUNT)) {
            compression = Err(format!("{codec}: {read:?}"));
            break;
        }
    }
    cell(COMPRESSION, compression);

    let group = unique("g");
    let static_member = ["-X", "group.instance.id=member-1"];
    let _ = group_read(&group, 1, &static_member);
    let started = Instant::now();
    let again = group_read(&group, 1, &static_member);
    let waited = started.elapsed();
    cell(
        STATIC,
        (!again.is_empty() && waited < Duration::from_secs(10))
            .then(|| format!("{waited:.2?}"))
            .ok_or(format!("{again:?} after {waited:.2?}")),
    );
    cells
}

// --- rskafka, a library: driven from here ------------------------------------------------------

fn rskafka(bootstrap: &str) -> Cells {
    use rskafka::{
        client::{
            ClientBuilder,
            partition::{Compression, OffsetAt, UnknownTopicHandling},
        },
        record::Record,
    };
    const BASE_MS: i64 = 1_750_000_000_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut cells = Cells::new();
        let client = match ClientBuilder::new(vec![bootstrap.to_owned()]).build().await {
            Ok(client) => client,
            Err(error) => {
                cells.insert(PRODUCE.to_owned(), (false, error.to_string()));
                return cells;
            }
        };
        let controller = client.controller_client().expect("a controller client");
        let records: Vec<Record> = (0..COUNT)
            .map(|i| Record {
                key: Some(format!("env-{i}").into_bytes()),
                value: Some(format!("value-{i}").into_bytes()),
                headers: [("h".to_owned(), b"x".to_vec())].into(),
                timestamp: chrono::DateTime::from_timestamp_millis(
                    BASE_MS + i64::try_from(i).unwrap_or(0) * 1000,
                )
                .expect("a time"),
            })
            .collect();
        // Produces the records to a new topic with `compression`, reads them back.
        let round_trip = |compression: Compression| {
            let topic = unique("rskafka");
            let (client, controller, records) = (&client, &controller, records.clone());
            async move {
                controller
                    .create_topic(&topic, 1, 1, 5_000)
                    .await
                    .map_err(|e| format!("create: {e}"))?;
                let partition = client
                    .partition_client(&topic, 0, UnknownTopicHandling::Retry)
                    .await
                    .map_err(|e| format!("partition: {e}"))?;
                let offsets = partition
                    .produce(records.clone(), compression)
                    .await
                    .map_err(|e| format!("produce: {e}"))?;
                let (read, _) = partition
                    .fetch_records(0, 1..1_000_000, 1_000)
                    .await
                    .map_err(|e| format!("fetch: {e}"))?;
                let got: Vec<&Record> = read.iter().map(|r| &r.record).collect();
                let want: Vec<&Record> = records.iter().collect();
                if offsets != (0..10).collect::<Vec<i64>>() || got != want {
                    return Err(format!("offsets {offsets:?}, read {} records", got.len()));
                }
                let at = chrono::DateTime::from_timestamp_millis(BASE_MS + 7_000).expect("a time");
                let found = partition
                    .get_offset(OffsetAt::Timestamp(at))
                    .await
                    .map_err(|e| format!("offset by time: {e}"))?;
                Ok(found)
            }
        };
        match round_trip(Compression::NoCompression).await {
            Ok(found) => {
                cells.insert(PRODUCE.to_owned(), (true, String::new()));
                cells.insert(FETCH.to_owned(), (true, String::new()));
                cells.insert(SEEK.to_owned(), (found == 7, format!("offset {found}")));
            }
            Err(error) => {
                cells.insert(PRODUCE.to_owned(), (false, error));
            }
        }
        let mut compression = (true, "gzip, lz4, snappy, zstd".to_owned());
        for codec in [
            Compression::Gzip,
            Compression::Lz4,
            Compression::Snappy,
            Compression::Zstd,
        ] {
            if let Err(error) = round_trip(codec).await {
                compression = (false, format!("{codec:?}: {error}"));
                break;
            }
        }
        cells.insert(COMPRESSION.to_owned(), compression);
        let refused = controller.create_topic(unique("r"), 1, 3, 5_000).await;
        cells.insert(
            REPLICATION.to_owned(),
            match refused {
                Err(error) if format!("{error:?}").contains("InvalidReplicationFactor") => {
                    (true, error.to_string())
                }
                other => (false, format!("{other:?}")),
            },
        );
        cells
    })
}
