//! The `[scenario]` table: name, seed, epoch, speed, the default user, the first run number,
//! what happens at the end, Kafka keys and the integration plugins AliECS would load.

use super::*;

impl Checker {
    pub(super) fn header(&mut self, raw: Spanned<RawHeader>) -> Option<Header> {
        let raw = raw.into_inner();
        let name = raw.name.get_ref().trim().to_owned();
        if name.is_empty() {
            self.report(Problem::new(
                span(&raw.name),
                "the scenario needs a name",
                "empty",
            ));
        }
        let seed = match &raw.seed {
            None => 0,
            Some(seed) if *seed.get_ref() < 0 => {
                self.report(
                    Problem::new(span(seed), "the seed cannot be negative", "negative")
                        .help("use any number from 0 to 2^63-1"),
                );
                0
            }
            Some(seed) => *seed.get_ref() as u64,
        };
        let epoch_now = raw.epoch.as_ref().is_some_and(
            |epoch| matches!(epoch.get_ref(), Value::String(text) if text.trim() == "now"),
        );
        let epoch = match &raw.epoch {
            None => DEFAULT_EPOCH,
            Some(written) => {
                let text = match written.get_ref() {
                    Value::String(text) => text.clone(),
                    Value::Datetime(datetime) => datetime.to_string(),
                    _ => String::new(),
                };
                match parse_epoch(&text) {
                    Some(epoch) if epoch > LATEST_EPOCH => {
                        self.report(
                            Problem::new(
                                span(written),
                                "the epoch is after 2200-01-01",
                                "too late",
                            )
                            .help("AliECS's timestamps (int64 nanoseconds) end in 2262, and a timeline may last 10 years"),
                        );
                        DEFAULT_EPOCH
                    }
                    Some(epoch) => epoch,
                    None => {
                        self.report(
                            Problem::new(
                                span(written),
                                "the epoch is not a UTC date and time, nor `now`",
                                "not an RFC 3339 instant in UTC",
                            )
                            .help("write it as 2025-06-15T12:00:00Z (UTC, with the Z), or \"now\" for the moment the scenario is read"),
                        );
                        DEFAULT_EPOCH
                    }
                }
            }
        };
        let speed = match &raw.speed {
            None => Speed::Virtual,
            Some(value) => {
                let number = match value.get_ref() {
                    Value::Integer(i) => Some(*i as f64),
                    Value::Float(f) => Some(*f),
                    _ => None,
                };
                match number.map(Speed::from_factor) {
                    Some(Ok(speed)) => speed,
                    Some(Err(error)) => {
                        self.report(Problem::new(span(value), error, "not a speed").help(
                            "0 runs in virtual time, as fast as possible; 1 is real time; 10 is ten times faster",
                        ));
                        Speed::Virtual
                    }
                    None => {
                        self.report(
                            Problem::new(span(value), "the speed must be a number", "not a speed")
                                .help("0 runs in virtual time, as fast as possible; 1 is real time; 10 is ten times faster"),
                        );
                        Speed::Virtual
                    }
                }
            }
        };
        let first_run_number = match &raw.first_run_number {
            None => 1,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.report(Problem::new(
                        span(n),
                        "the first run number must be between 1 and 4294967295",
                        "out of range",
                    ));
                    1
                }
            },
        };
        let at_end = match raw.at_end.as_ref().map(|a| (a.get_ref().as_str(), a)) {
            None | Some(("leave", _)) => AtEnd::Leave,
            Some(("destroy", _)) => AtEnd::Destroy,
            Some((_, value)) => {
                self.report(Problem::new(
                    span(value),
                    "`at_end` is `leave` or `destroy`",
                    "unknown choice",
                ));
                AtEnd::Leave
            }
        };
        let kafka_keys = match raw.kafka_keys.as_ref().map(|k| (k.get_ref().as_str(), k)) {
            None | Some(("environment", _)) => KafkaKeys::EnvironmentId,
            Some(("none", _)) => KafkaKeys::None,
            Some((_, value)) => {
                self.report(
                    Problem::new(
                        span(value),
                        "`kafka_keys` is `environment` or `none`",
                        "unknown choice",
                    )
                    .help("`none` sends the Kafka plugin's messages without a key, as AliECS does"),
                );
                KafkaKeys::EnvironmentId
            }
        };
        // A user with problems has been reported; the default stands in so checking goes on.
        let user = raw
            .user
            .as_ref()
            .map_or_else(users::default_user, |written| {
                self.user(written).unwrap_or_else(users::default_user)
            });
        let integration_plugins = raw
            .integration_plugins
            .as_ref()
            .map(|names| self.integration_plugins(names));
        Some(Header {
            integration_plugins,
            enable_kafka: raw.enable_kafka.unwrap_or(true),
            name,
            description: raw.description.unwrap_or_default(),
            seed,
            epoch,
            epoch_now,
            speed,
            user,
            first_run_number,
            at_end,
            kafka_keys,
        })
    }
}
