//! A minimal ecsim integration plugin — copy this crate to start your own.
//!
//! The plugin is called `example`. It announces runs to an imaginary run logbook: workflow calls
//! `example.StartOfRun()` and `example.EndOfRun()` (add them to an environment with
//! `[[environment.call]]`, see `scenario.toml` next to this file). Each call:
//!
//! - reads the call's variables (`run_number`, `detectors`), as AliECS plugins read their
//!   var stack;
//! - publishes integrated-service events on `aliecs.integrated_service.example`, the way
//!   AliECS's own plugins report their steps;
//! - takes simulated time (`latency` in its configuration), without sleeping;
//! - fails, as an AliECS plugin fails (`__call_error` and `__call_error_reason`), when the
//!   environment includes a detector the configuration refuses;
//! - sets a variable on the environment when it succeeds.
//!
//! Build it with `cargo build -p ecsim-example-plugin` and run it with
//! `ecsim run plugins/example/scenario.toml --plugin target/debug/libecsim_example_plugin.so`.
//! `docs/plugins.md` explains how calls reach a plugin and what crosses the boundary.

use std::time::Duration;

use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup, parse_go_duration};
use serde::Deserialize;

/// The plugin's configuration: `[plugin.config.example]` in a scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// How long the logbook takes to answer, as a Go duration.
    #[serde(default = "default_latency")]
    latency: String,
    /// Detectors the logbook refuses runs of.
    #[serde(default)]
    refuse_detectors: Vec<String>,
}

fn default_latency() -> String {
    "1s".to_owned()
}

/// The plugin's state: one instance serves every environment.
#[derive(Debug)]
pub struct Example {
    latency: Duration,
    refuse_detectors: Vec<String>,
    runs_announced: u64,
}

impl Plugin for Example {
    const NAME: &'static str = "example";
    const PRETTY_NAME: &'static str = "Example run logbook";
    const FUNCTIONS: &'static [&'static str] = &["StartOfRun", "EndOfRun"];

    fn create(setup: &Setup) -> Result<Self, String> {
        let config: Config = setup.config()?;
        let latency = parse_go_duration(&config.latency).ok_or_else(|| {
            format!(
                "latency {:?} is not a duration (write 1s, 500ms)",
                config.latency
            )
        })?;
        Ok(Self {
            latency,
            refuse_detectors: config.refuse_detectors,
            runs_announced: 0,
        })
    }

    fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
        let what = match call.function() {
            "StartOfRun" => "start",
            "EndOfRun" => "end",
            other => return Err(CallError::new(format!("example has no function {other}"))),
        };
        let failed = CallError::new(format!("example {} call failed", call.function()));
        let run = call.var("run_number").unwrap_or_default().to_owned();
        if run.is_empty() || run == "0" {
            return Err(failed.reason("the environment has no run number"));
        }
        // `detectors` is a JSON list, e.g. ["ITS","TPC"].
        let detectors: Vec<String> = call
            .var("detectors")
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let payload = serde_json::json!({ "runNumber": run, "detectors": detectors }).to_string();

        let mut started = call.service_event(
            OpStatus::Started,
            &format!("announce run {what}"),
            OpStatus::Started,
        );
        started.payload = payload.clone();
        call.publish("example", started);

        call.elapse(self.latency); // the logbook takes its time; ecsim plays it on its clock

        if let Some(refused) = detectors.iter().find(|d| self.refuse_detectors.contains(d)) {
            let reason = format!("the logbook refuses runs with {refused}");
            let mut done = call.service_event(
                OpStatus::DoneError,
                &format!("announce run {what}"),
                OpStatus::DoneError,
            );
            done.payload = payload;
            done.error = reason.clone();
            call.publish("example", done);
            return Err(failed.reason(reason));
        }
        let mut done = call.service_event(
            OpStatus::DoneOk,
            &format!("announce run {what}"),
            OpStatus::DoneOk,
        );
        done.payload = payload;
        call.publish("example", done);
        self.runs_announced += 1;
        call.set_runtime_var(format!("example_run_{what}_ms"), call.now_ms().to_string());
        Ok(format!(
            "run {run} {what} announced ({} so far)",
            self.runs_announced
        ))
    }
}

ecsim_plugin_sdk::declare_plugins!(Example);

#[cfg(test)]
mod tests {
    use ecsim_plugin_sdk::proto::{events::Traits, plugin::CallRequest};

    use super::*;

    fn setup(config: serde_json::Value) -> Setup {
        Setup {
            plugin: "example".into(),
            instance_id: "test".into(),
            config,
            seed: 0,
            virtual_time: true,
        }
    }

    fn call(function: &str, run: &str) -> Call {
        Call::new(CallRequest {
            function: function.into(),
            func: format!("example.{function}()"),
            role_path: "readout-dataflow.example".into(),
            environment_id: "2oDvieFrVTi".into(),
            traits: Some(Traits {
                timeout: "30s".into(),
                ..Default::default()
            }),
            vars: [
                ("run_number".to_owned(), run.to_owned()),
                ("detectors".to_owned(), r#"["ITS","TPC"]"#.to_owned()),
            ]
            .into(),
            now_ms: 1_000,
            environment_name: "physics".into(),
            timeout_ms: 30_000,
        })
    }

    #[test]
    fn a_start_of_run_is_announced_after_the_latency() {
        let mut plugin = Example::create(&setup(serde_json::json!({"latency": "2s"}))).unwrap();
        let mut sor = call("StartOfRun", "7");
        let output = plugin.call(&mut sor).unwrap();
        assert_eq!(output, "run 7 start announced (1 so far)");
        let reply = sor.into_reply(Ok(output));
        assert_eq!(reply.duration_ms, 2_000);
        let steps: Vec<(u64, i32)> = reply
            .events
            .iter()
            .map(|e| (e.after_ms, e.event.as_ref().unwrap().operation_status))
            .collect();
        assert_eq!(
            steps,
            [
                (0, OpStatus::Started as i32),
                (2_000, OpStatus::DoneOk as i32)
            ]
        );
        assert_eq!(reply.runtime_vars["example_run_start_ms"], "3000");
    }

    #[test]
    fn a_refused_detector_fails_the_call_as_aliecs_plugins_do() {
        let mut plugin =
            Example::create(&setup(serde_json::json!({"refuse_detectors": ["TPC"]}))).unwrap();
        let error = plugin.call(&mut call("StartOfRun", "7")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "example StartOfRun call failed. REASON: the logbook refuses runs with TPC"
        );
        let error = plugin.call(&mut call("EndOfRun", "")).unwrap_err();
        assert_eq!(
            error.reason.as_deref(),
            Some("the environment has no run number")
        );
    }

    #[test]
    fn a_bad_configuration_says_what_is_wrong() {
        let error = Example::create(&setup(serde_json::json!({"latency": "soon"}))).unwrap_err();
        assert_eq!(
            error,
            "latency \"soon\" is not a duration (write 1s, 500ms)"
        );
        let error = Example::create(&setup(serde_json::json!({"latencies": "1s"}))).unwrap_err();
        assert!(
            error
                .starts_with("invalid configuration for plugin example: unknown field `latencies`"),
            "{error}"
        );
    }
}
