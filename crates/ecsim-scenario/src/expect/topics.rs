//! Expectations against the topics a run writes: one that reads a topic the run never writes
//! can only pass by saying nothing was there, so it is refused before the run starts — a
//! plugin's topic whose plugin is not loaded, a state the Kafka plugin never reports.

use super::{Expectation, topic_matches};

/// An expectation that reads a topic the run never writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}:{line}: the expectation reads {topic}, which this run never writes ({why}); \
     an expectation there could only find nothing"
)]
pub struct UnwrittenTopic {
    /// The scenario file.
    pub file: String,
    /// The expectation's line.
    pub line: usize,
    /// Its topic (or pattern).
    pub topic: String,
    /// What the run writes instead, in words.
    pub why: String,
}

/// The first expectation of `expectations` (in `file`) whose topic matches none of `written`.
pub fn check_topics(
    file: &str,
    expectations: &[Expectation],
    written: &[String],
) -> Result<(), UnwrittenTopic> {
    let Some(unwritten) = expectations
        .iter()
        .find(|e| !written.iter().any(|topic| topic_matches(&e.topic, topic)))
    else {
        return Ok(());
    };
    let prefix = ecsim_proto::topics::INTEGRATED_SERVICE_PREFIX;
    let alike = |start: &str| -> Vec<&str> {
        written
            .iter()
            .filter(|t| t.starts_with(start))
            .map(String::as_str)
            .collect()
    };
    let why = if let Some(service) = unwritten.topic.strip_prefix(prefix) {
        let loaded: Vec<&str> = alike(prefix)
            .into_iter()
            .filter_map(|t| t.strip_prefix(prefix))
            .collect();
        format!(
            "no plugin {service} is loaded; {}",
            if loaded.is_empty() {
                "no plugin with a topic of its own is".to_owned()
            } else {
                format!("loaded: {}", loaded.join(", "))
            }
        )
    } else if let Some((family, _)) = unwritten.topic.rsplit_once('.')
        && !alike(&format!("{family}.")).is_empty()
    {
        format!("it writes {}", alike(&format!("{family}.")).join(", "))
    } else if written.is_empty() {
        "it writes nothing: enable_kafka = false".to_owned()
    } else {
        format!("it writes {}", written.join(", "))
    };
    Err(UnwrittenTopic {
        file: file.to_owned(),
        line: unwritten.line,
        topic: unwritten.topic.clone(),
        why,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn expecting(topic: &str) -> Vec<Expectation> {
        vec![Expectation {
            line: 9,
            topic: topic.to_owned(),
            environment: None,
            fields: Vec::new(),
            min: 0,
            max: Some(0),
            in_order: Vec::new(),
        }]
    }

    #[test]
    fn an_expectation_on_a_topic_the_run_never_writes_is_refused_with_what_it_writes() {
        let written: Vec<String> = [
            "aliecs.call",
            "aliecs.env_state.RUNNING",
            "aliecs.env_state.ERROR",
            "aliecs.integrated_service.dcs",
        ]
        .map(str::to_owned)
        .to_vec();
        assert!(check_topics("s.toml", &expecting("aliecs.call"), &written).is_ok());
        assert!(check_topics("s.toml", &expecting("aliecs.env_state.*"), &written).is_ok());
        let error = check_topics(
            "s.toml",
            &expecting("aliecs.integrated_service.exmaple"),
            &written,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "s.toml:9: the expectation reads aliecs.integrated_service.exmaple, which this run \
             never writes (no plugin exmaple is loaded; loaded: dcs); an expectation there could \
             only find nothing"
        );
        let error =
            check_topics("s.toml", &expecting("aliecs.env_state.STANDBY"), &written).unwrap_err();
        assert_eq!(
            error.why,
            "it writes aliecs.env_state.RUNNING, aliecs.env_state.ERROR"
        );
        let error = check_topics("s.toml", &expecting("aliecs.run"), &[]).unwrap_err();
        assert_eq!(error.why, "it writes nothing: enable_kafka = false");
    }
}
