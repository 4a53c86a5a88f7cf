//! From a call's variables to the `kafka.EnvInfo` AliECS's Kafka plugin sends.
//!
//! Reference §2.3–2.4 (`core/integration/kafka/plugin.go`, `extractStateFromTrigger` and
//! `newEnvStateObject`), rule for rule, including the parts that surprise: a weight on an
//! `enter_`/`leave_` trigger stays in the state name, and any missing or malformed input makes
//! the whole object nil.

use ecsim_core::plugin::CallContext;
use ecsim_proto::kafka::EnvInfo;

/// The state a trigger reports, as AliECS derives it.
pub fn state_from_trigger(trigger: &str) -> String {
    if trigger.contains("enter_") {
        trigger.strip_prefix("enter_").unwrap_or(trigger).to_owned()
    } else if trigger.contains("leave_") {
        trigger.strip_prefix("leave_").unwrap_or(trigger).to_owned()
    } else if trigger.contains("after_START_ACTIVITY") || trigger.contains("before_STOP_ACTIVITY") {
        "RUNNING".to_owned()
    } else if trigger.contains("before_START_ACTIVITY") || trigger.contains("after_STOP_ACTIVITY") {
        "CONFIGURED".to_owned()
    } else {
        // DESTROY: "the plugin cannot know what will be the state after the transition".
        "UNKNOWN".to_owned()
    }
}

/// The `EnvInfo` of the call's environment, or `None` where AliECS's `newEnvStateObject`
/// returns nil: no environment id, no trigger, no (numeric) `enter_state_time_ms`, no
/// (JSON list) `detectors`.
pub fn env_info(call: &CallContext) -> Option<EnvInfo> {
    let environment_id = call.var("environment_id").filter(|id| !id.is_empty())?;
    let trigger = call.var("__call_trigger").filter(|t| !t.is_empty())?;
    let enter_state_timestamp = call.var("enter_state_time_ms")?.parse::<u64>().ok()?;
    let detectors: Vec<String> = serde_json::from_str(call.var("detectors")?).ok()?;
    let state = state_from_trigger(trigger);

    let with_run = state == "RUNNING" || trigger.contains("START_ACTIVITY");
    let (run_number, run_type) = if with_run {
        (
            call.var("run_number").and_then(|n| n.parse::<u32>().ok()),
            call.var("run_type").map(str::to_owned),
        )
    } else {
        (None, None)
    };
    Some(EnvInfo {
        environment_id: environment_id.to_owned(),
        run_number,
        run_type,
        state,
        detectors,
        enter_state_timestamp,
    })
}

#[cfg(test)]
mod tests {

    use ecsim_core::plugin::CallTraits;

    use super::*;

    #[test]
    fn states_come_from_triggers_as_in_aliecs() {
        let cases = [
            ("enter_RUNNING", "RUNNING"),
            ("leave_CONFIGURED", "CONFIGURED"),
            ("enter_RUNNING+10", "RUNNING+10"), // the weight is not stripped
            ("after_START_ACTIVITY-10", "RUNNING"),
            ("before_STOP_ACTIVITY", "RUNNING"),
            ("before_START_ACTIVITY+50", "CONFIGURED"),
            ("after_STOP_ACTIVITY", "CONFIGURED"),
            ("DESTROY", "UNKNOWN"),
            ("after_GO_ERROR", "UNKNOWN"),
        ];
        for (trigger, state) in cases {
            assert_eq!(state_from_trigger(trigger), state, "{trigger}");
        }
    }

    fn call(trigger: &str, vars: &[(&str, &str)]) -> CallContext {
        CallContext {
            environment_id: "2oDvieFrVTi".into(),
            environment_name: "physics".into(),
            plugin: "kafka".into(),
            function: "PublishEnterStateUpdate".into(),
            func: "kafka.PublishEnterStateUpdate()".into(),
            role_path: "readout-dataflow.kafka.running".into(),
            traits: CallTraits {
                trigger: trigger.into(),
                r#await: trigger.into(),
                timeout: "5s".into(),
                critical: false,
            },
            vars: vars.iter().copied().collect(),
        }
    }

    const FULL: &[(&str, &str)] = &[
        ("enter_state_time_ms", "1750000000000"),
        ("detectors", r#"["TPC","ITS"]"#),
        ("run_number", "42"),
        ("run_type", "PHYSICS"),
    ];

    #[test]
    fn run_number_and_type_only_while_running_or_starting() {
        let running = env_info(&call("enter_RUNNING", FULL)).unwrap();
        assert_eq!(
            (running.run_number, running.run_type.as_deref()),
            (Some(42), Some("PHYSICS"))
        );
        assert_eq!(running.detectors, ["TPC", "ITS"], "var order, unsorted");
        assert_eq!(running.enter_state_timestamp, 1_750_000_000_000);

        let starting = env_info(&call("before_START_ACTIVITY+50", FULL)).unwrap();
        assert_eq!(
            (starting.state.as_str(), starting.run_number),
            ("CONFIGURED", Some(42))
        );

        let configured = env_info(&call("enter_CONFIGURED", FULL)).unwrap();
        assert_eq!((configured.run_number, configured.run_type), (None, None));
    }

    #[test]
    fn an_unparsable_run_number_is_left_out() {
        let vars = [
            ("enter_state_time_ms", "1"),
            ("detectors", "[]"),
            ("run_number", "x"),
        ];
        assert_eq!(
            env_info(&call("enter_RUNNING", &vars)).unwrap().run_number,
            None
        );
    }

    #[test]
    fn missing_or_malformed_inputs_give_nothing() {
        assert!(
            env_info(&call("enter_RUNNING", &[("detectors", "[]")])).is_none(),
            "no enter time"
        );
        assert!(
            env_info(&call(
                "enter_RUNNING",
                &[("enter_state_time_ms", "soon"), ("detectors", "[]")]
            ))
            .is_none()
        );
        assert!(
            env_info(&call("enter_RUNNING", &[("enter_state_time_ms", "1")])).is_none(),
            "no detectors"
        );
        assert!(
            env_info(&call(
                "enter_RUNNING",
                &[("enter_state_time_ms", "1"), ("detectors", "ITS")]
            ))
            .is_none()
        );
        assert!(env_info(&call("", FULL)).is_none(), "no trigger");
    }
}
