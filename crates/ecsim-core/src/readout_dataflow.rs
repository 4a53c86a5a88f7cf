//! The standard workflow: AliECS's `readout-dataflow` template, as data.
//!
//! Its integration calls follow reference §1.9 (ControlWorkflows `workflows/readout-dataflow.yaml`
//! at 25da17f8): every call's role name, function, trigger, await, timeout and critical flag, in
//! role order (dcs, dd-scheduler, odc, trg, ccdb, bookkeeping, lhc, kafka), each switched on by
//! the same `*_enabled` variable as in AliECS, with the template's defaults. Role names show in
//! `Ev_CallEvent.path` and in the integrated services' event `name`.
//!
//! Task roles (readout, StfBuilder, StfSender on every FLP) become simulated tasks; the QC and
//! CTP-readout task roles are left out.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    condition::Condition,
    workflow::{CallSpec, HookTask, TaskClass, Workflow},
};

/// The workflow's name, and the root of every role path.
pub const NAME: &str = "readout-dataflow";

fn defaults() -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = &[
        // Switches (General Configuration panel and per-plugin roles).
        ("dcs_enabled", "false"),
        ("dd_enabled", "true"),
        ("epn_enabled", "false"),
        ("odc_enabled", "{{ epn_enabled }}"),
        (
            "ddsched_enabled",
            "{{ epn_enabled == 'true' && dd_enabled == 'true' }}",
        ),
        ("trg_enabled", "false"),
        ("trg_global_run_enabled", "false"),
        ("ctp_readout_enabled", "false"),
        ("ccdb_enabled", "false"),
        ("bookkeeping_enabled", "false"),
        ("bookkeeping_consuming_kafka", "true"),
        ("lhc_enabled", "false"),
        ("kafka_enabled", "false"),
        ("odc_partitions_cleanup", "true"),
        ("stop_at_beam_dump", "false"),
        // The template derives the switch from the timeout: `auto_stop_timeout = "2m"` alone
        // stops the run after two minutes.
        (
            "auto_stop_enabled",
            "{{ !strings.IsFalsy(auto_stop_timeout) }}",
        ),
        ("auto_stop_timeout", "none"),
        ("run_type", "PHYSICS"),
        ("deploy_timeout", "90s"),
        // DCS (`dcs_detectors` is the dcs role's: see `role_defaults`).
        ("dcs_sor_parameters", "{}"),
        ("dcs_eor_parameters", "{}"),
        ("dcs_pfr_grace_period", "10s"),
        ("dcs_sor_grace_period", "10s"),
        ("dcs_pfr_timeout", "310s"),
        ("dcs_sor_timeout", "140s"),
        ("dcs_eor_timeout", "30s"),
        ("dcs_cleanup_timeout", "30s"),
        // DD scheduler.
        ("ddsched_initialize_timeout", "300s"),
        ("ddsched_terminate_timeout", "300s"),
        ("ddsched_cleanup_timeout", "60s"),
        // ODC.
        ("odc_partition_cleanup_timeout", "60s"),
        ("odc_partitioninitialize_timeout", "60s"),
        ("odc_configure_timeout", "60s"),
        ("odc_start_timeout", "60s"),
        ("odc_stop_timeout", "60s"),
        ("odc_goerror_timeout", "60s"),
        ("odc_reset_timeout", "60s"),
        ("odc_partitionterminate_timeout", "60s"),
        ("odc_cleanup_timeout", "60s"),
        // TRG (`trg_detectors` is the trg role's).
        ("trg_pfr_timeout", "5s"),
        ("trg_load_timeout", "15s"),
        ("trg_start_timeout", "20s"),
        ("trg_stop_timeout", "5s"),
        ("trg_unload_timeout", "5s"),
        // Task hooks.
        ("fmq_initial_shm_cleanup_enabled", "true"),
        ("fmq_cleanup_enabled", "true"),
        ("fmq_initial_shm_cleanup_timeout", "30s"),
        // CCDB (the LHC calls' 5 s timeout is written in their roles).
        ("ccdb_start_timeout", "10s"),
        ("ccdb_stop_timeout", "10s"),
    ];
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The task hooks of every FLP that the template switches on by default
/// (CW:readout-dataflow.yaml, the `host-{{ it }}` roles): the shared-memory cleaner at
/// before_DEPLOY — whose task does not exist yet then, so it never runs —, the shared-memory
/// monitor at DESTROY, and on ITS FLPs the CRU enabling at DESTROY, the only critical one.
fn hook_tasks() -> Vec<HookTask> {
    let tasks = "github.com/AliceO2Group/ControlWorkflows/tasks";
    let hook =
        |name: &str, class: &str, trigger: &str, timeout: &str, critical, switch: &str| HookTask {
            name: name.to_owned(),
            class_name: format!("{tasks}/{class}@master"),
            trigger: trigger.to_owned(),
            timeout: timeout.to_owned(),
            critical,
            enabled: Condition::is_true(switch),
            detector: None,
        };
    vec![
        hook(
            "fairmq-shmcleanup",
            "shell-command",
            "before_DEPLOY",
            "{{ fmq_initial_shm_cleanup_timeout }}",
            false,
            "fmq_initial_shm_cleanup_enabled",
        ),
        hook(
            "fairmq-shmmonitor",
            "fairmq-shmmonitor",
            "DESTROY",
            "10s",
            false,
            "fmq_cleanup_enabled",
        ),
        HookTask {
            enabled: Condition::Always,
            detector: Some("ITS".to_owned()),
            ..hook(
                "its-cru-enable",
                "shell-command",
                "DESTROY",
                "10s",
                true,
                "",
            )
        },
    ]
}

/// Defaults the template defines on the dcs and trg roles, not the root: the detectors, sorted,
/// as JSON (CW:readout-dataflow.yaml, the `dcs` and `trg` roles' `defaults`).
fn role_defaults() -> BTreeMap<String, BTreeMap<String, String>> {
    let sorted = "{{ json.Marshal(json.Sort(json.Unmarshal(detectors))) }}";
    [("dcs", "dcs_detectors"), ("trg", "trg_detectors")]
        .into_iter()
        .map(|(role, key)| {
            (
                role.to_owned(),
                BTreeMap::from([(key.to_owned(), sorted.to_owned())]),
            )
        })
        .collect()
}

fn call(role: &str, func: &str, trigger: &str, timeout: &str, critical: bool) -> CallSpec {
    CallSpec::new(role, func, trigger)
        .timeout(timeout)
        .critical(critical)
}

fn dcs() -> Vec<CallSpec> {
    vec![
        call(
            "dcs.pfr",
            "dcs.PrepareForRun()",
            "before_CONFIGURE",
            "{{ dcs_pfr_timeout }}",
            false,
        )
        .awaited_at("after_CONFIGURE-1"),
        call(
            "dcs.sor",
            "dcs.StartOfRun()",
            "before_START_ACTIVITY+100",
            "{{ dcs_sor_timeout }}",
            true,
        ),
        call(
            "dcs.eor",
            "dcs.EndOfRun()",
            "after_STOP_ACTIVITY-50",
            "{{ dcs_eor_timeout }}",
            true,
        ),
        call(
            "dcs.error-cleanup",
            "dcs.Cleanup()",
            "after_GO_ERROR-1",
            "{{ dcs_cleanup_timeout }}",
            false,
        ),
        call(
            "dcs.destroy-cleanup",
            "dcs.Cleanup()",
            "DESTROY",
            "{{ dcs_cleanup_timeout }}",
            false,
        ),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("dcs_enabled")))
    .collect()
}

fn dd_scheduler() -> Vec<CallSpec> {
    vec![
        call(
            "dd-scheduler.initialize",
            "ddsched.PartitionInitialize()",
            "before_CONFIGURE",
            "{{ ddsched_initialize_timeout }}",
            true,
        )
        .awaited_at("after_CONFIGURE-1"),
        call(
            "dd-scheduler.terminate",
            "ddsched.PartitionTerminate()",
            "after_RESET-1",
            "{{ ddsched_terminate_timeout }}",
            true,
        ),
        call(
            "dd-scheduler.cleanup",
            "ddsched.EnsureTermination()",
            "DESTROY",
            "{{ ddsched_cleanup_timeout }}",
            false,
        ),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("ddsched_enabled")))
    .collect()
}

fn odc() -> Vec<CallSpec> {
    let cleanup_on = Condition::is_true("odc_partitions_cleanup");
    let cleanup_off = Condition::Equals {
        var: "odc_partitions_cleanup".into(),
        value: "false".into(),
    };
    vec![
        call(
            "odc.deploy",
            "odc.PreDeploymentCleanup()",
            "before_DEPLOY-100",
            "{{ odc_partition_cleanup_timeout }}",
            false,
        )
        .awaited_at("before_DEPLOY-100")
        .enabled_if(cleanup_on.clone()),
        call(
            "odc.part-init",
            "odc.PartitionInitialize()",
            "before_DEPLOY",
            "{{ odc_partitioninitialize_timeout }}",
            true,
        )
        .awaited_at("after_DEPLOY-1"),
        call(
            "odc.configure",
            "odc.Configure()",
            "after_CONFIGURE-1",
            "{{ odc_configure_timeout }}",
            true,
        ),
        call(
            "odc.start",
            "odc.Start()",
            "before_START_ACTIVITY+100",
            "{{ odc_start_timeout }}",
            true,
        )
        .awaited_at("after_START_ACTIVITY-10"),
        call(
            "odc.stop",
            "odc.Stop()",
            "before_STOP_ACTIVITY",
            "{{ odc_stop_timeout }}",
            true,
        )
        .awaited_at("after_STOP_ACTIVITY-50"),
        call(
            "odc.reset",
            "odc.Reset()",
            "before_RESET",
            "{{ odc_reset_timeout }}",
            true,
        )
        .awaited_at("after_RESET-1"),
        call(
            "odc.go-error",
            "odc.EnsureStop()",
            "before_GO_ERROR",
            "{{ odc_goerror_timeout }}",
            false,
        )
        .awaited_at("after_GO_ERROR-1"),
        call(
            "odc.part-term",
            "odc.PartitionTerminate()",
            "after_RESET+100",
            "{{ odc_partitionterminate_timeout }}",
            true,
        ),
        call(
            "odc.cleanup",
            "odc.EnsureCleanup()",
            "DESTROY",
            "{{ odc_cleanup_timeout }}",
            false,
        )
        .enabled_if(cleanup_on),
        call(
            "odc.legacy-cleanup",
            "odc.EnsureCleanupLegacy()",
            "DESTROY",
            "1m",
            false,
        )
        .enabled_if(cleanup_off),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("odc_enabled")))
    .collect()
}

fn trg() -> Vec<CallSpec> {
    vec![
        call(
            "trg.pfr",
            "trg.PrepareForRun()",
            "before_START_ACTIVITY-200",
            "{{ trg_pfr_timeout }}",
            true,
        )
        .enabled_if(Condition::DetectorsContain("TPC".into())),
        call(
            "trg.load",
            "trg.RunLoad()",
            "before_START_ACTIVITY+10",
            "{{ trg_load_timeout }}",
            true,
        ),
        call(
            "trg.start",
            "trg.RunStart()",
            "after_START_ACTIVITY-10",
            "{{ trg_start_timeout }}",
            true,
        ),
        call(
            "trg.stop",
            "trg.RunStop()",
            "before_STOP_ACTIVITY-10",
            "{{ trg_stop_timeout }}",
            false,
        ),
        call(
            "trg.unload",
            "trg.RunUnload()",
            "after_STOP_ACTIVITY-100",
            "{{ trg_unload_timeout }}",
            false,
        ),
        call(
            "trg.errorensurerunstop",
            "trg.EnsureRunStop()",
            "before_GO_ERROR-10",
            "{{ trg_stop_timeout }}",
            false,
        ),
        call(
            "trg.errorensurerununload",
            "trg.EnsureRunUnload()",
            "before_GO_ERROR-9",
            "{{ trg_unload_timeout }}",
            false,
        ),
        call(
            "trg.destroyensurerunstop",
            "trg.EnsureRunStop()",
            "DESTROY-100",
            "{{ trg_stop_timeout }}",
            false,
        ),
        call(
            "trg.destroyensurerununload",
            "trg.EnsureRunUnload()",
            "DESTROY-99",
            "{{ trg_unload_timeout }}",
            false,
        ),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("trg_enabled")))
    .collect()
}

fn ccdb() -> Vec<CallSpec> {
    vec![
        call(
            "ccdb.start",
            "ccdb.RunStart()",
            "before_START_ACTIVITY+100",
            "{{ ccdb_start_timeout }}",
            false,
        ),
        call(
            "ccdb.stop",
            "ccdb.RunStop()",
            "after_STOP_ACTIVITY",
            "{{ ccdb_stop_timeout }}",
            false,
        ),
        call(
            "ccdb.destroy",
            "ccdb.RunStop()",
            "DESTROY",
            "{{ ccdb_stop_timeout }}",
            false,
        ),
        call(
            "ccdb.error",
            "ccdb.RunStop()",
            "after_GO_ERROR",
            "{{ ccdb_stop_timeout }}",
            false,
        ),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("ccdb_enabled")))
    .collect()
}

fn bookkeeping() -> Vec<CallSpec> {
    // Bookkeeping normally learns about runs from Kafka; only RetrieveFillInfo runs then.
    let unless_consuming_kafka = Condition::NotEquals {
        var: "bookkeeping_consuming_kafka".into(),
        value: "true".into(),
    };
    let roles: &[(&str, &str, &str, bool)] = &[
        (
            "startrun",
            "bookkeeping.StartOfRun()",
            "before_START_ACTIVITY+10",
            true,
        ),
        (
            "retrievefillinfoatsor",
            "bookkeeping.RetrieveFillInfo()",
            "before_START_ACTIVITY+11",
            false,
        ),
        (
            "updaterunstart",
            "bookkeeping.UpdateRunStart()",
            "after_START_ACTIVITY+100",
            true,
        ),
        (
            "updaterunstop",
            "bookkeeping.UpdateRunStop()",
            "after_STOP_ACTIVITY+100",
            true,
        ),
        (
            "updaterungoerror",
            "bookkeeping.UpdateRunStop()",
            "after_GO_ERROR+100",
            true,
        ),
        (
            "updaterundestroy",
            "bookkeeping.UpdateRunStop()",
            "DESTROY",
            true,
        ),
        ("startenv", "bookkeeping.CreateEnv()", "before_DEPLOY", true),
        (
            "deploy",
            "bookkeeping.UpdateEnv()",
            "after_DEPLOY+100",
            true,
        ),
        (
            "configure",
            "bookkeeping.UpdateEnv()",
            "after_CONFIGURE+100",
            true,
        ),
        ("reset", "bookkeeping.UpdateEnv()", "after_RESET+100", true),
        (
            "start",
            "bookkeeping.UpdateEnv()",
            "after_START_ACTIVITY+100",
            true,
        ),
        (
            "stop",
            "bookkeeping.UpdateEnv()",
            "after_STOP_ACTIVITY+100",
            true,
        ),
        ("exit", "bookkeeping.UpdateEnv()", "after_EXIT", true),
        (
            "goerror",
            "bookkeeping.UpdateEnv()",
            "after_GO_ERROR+100",
            true,
        ),
        (
            "recover",
            "bookkeeping.UpdateEnv()",
            "after_RECOVER+100",
            true,
        ),
        ("destroy", "bookkeeping.UpdateEnv()", "DESTROY", true),
    ];
    roles
        .iter()
        .map(|&(role, func, trigger, gated)| {
            let spec = call(&format!("bookkeeping.{role}"), func, trigger, "10s", false);
            let spec = if gated {
                spec.enabled_if(unless_consuming_kafka.clone())
            } else {
                spec
            };
            spec.enabled_if(Condition::is_true("bookkeeping_enabled"))
        })
        .collect()
}

fn lhc() -> Vec<CallSpec> {
    let timeout = "5s";
    vec![
        call(
            "lhc.deploy",
            "lhc.UpdateFillInfo()",
            "before_DEPLOY-50",
            timeout,
            true,
        ),
        call(
            "lhc.sor",
            "lhc.UpdateFillInfo()",
            "before_START_ACTIVITY-50",
            timeout,
            true,
        ),
        call(
            "lhc.eor",
            "lhc.UpdateFillInfo()",
            "before_STOP_ACTIVITY-50",
            timeout,
            true,
        ),
        call(
            "lhc.error",
            "lhc.UpdateFillInfo()",
            "before_GO_ERROR-50",
            timeout,
            false,
        ),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("lhc_enabled")))
    .collect()
}

fn kafka() -> Vec<CallSpec> {
    let enter = "kafka.PublishEnterStateUpdate()";
    let leave = "kafka.PublishLeaveStateUpdate()";
    vec![
        call("kafka.standby", enter, "enter_STANDBY", "5s", false),
        call("kafka.deployed", enter, "enter_DEPLOYED", "5s", false),
        call("kafka.configured", enter, "enter_CONFIGURED", "5s", false),
        call("kafka.running", enter, "enter_RUNNING", "5s", false),
        call("kafka.error", enter, "enter_ERROR", "5s", false),
        call("kafka.destroy", enter, "DESTROY", "5s", false),
        call("kafka.leave_standby", leave, "leave_STANDBY", "5s", false),
        call("kafka.leave_deployed", leave, "leave_DEPLOYED", "5s", false),
        call(
            "kafka.leave_configured",
            leave,
            "leave_CONFIGURED",
            "5s",
            false,
        ),
        call("kafka.leave_running", leave, "leave_RUNNING", "5s", false),
        call("kafka.leave_error", leave, "leave_ERROR", "5s", false),
        call(
            "kafka.before_start_activity",
            "kafka.PublishStartActivityUpdate()",
            "before_START_ACTIVITY+50",
            "5s",
            false,
        ),
    ]
    .into_iter()
    .map(|c| c.enabled_if(Condition::is_true("kafka_enabled")))
    .collect()
}

/// The tasks of every FLP (CW:readout-dataflow.yaml, the `host-{{ it }}` roles): readout, and
/// under `data-distribution` the StfBuilder sending to the StfSender.
fn task_classes() -> Vec<TaskClass> {
    let tasks = "github.com/AliceO2Group/ControlWorkflows/tasks";
    [
        ("readout", None, "readout"),
        ("stfb", Some("data-distribution"), "stfbuilder-senderoutput"),
        ("stfs", Some("data-distribution"), "stfsender"),
    ]
    .into_iter()
    .map(|(name, group, class)| TaskClass {
        name: name.to_owned(),
        group: group.map(str::to_owned),
        class_name: format!("{tasks}/{class}@master"),
    })
    .collect()
}

/// AliECS's `readout-dataflow` workflow template.
pub fn workflow() -> Workflow {
    let calls = [
        dcs(),
        dd_scheduler(),
        odc(),
        trg(),
        ccdb(),
        bookkeeping(),
        lhc(),
        kafka(),
    ]
    .concat();
    Workflow {
        name: NAME.to_owned(),
        description: "Main workflow template for ALICE data taking".to_owned(),
        path: "github.com/AliceO2Group/ControlWorkflows/workflows/readout-dataflow@master"
            .to_owned(),
        public: true,
        defaults: Arc::new(defaults()),
        calls,
        task_classes: task_classes(),
        role_defaults: role_defaults(),
        hook_tasks: hook_tasks(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::Trigger;

    fn find<'a>(wf: &'a Workflow, role: &str) -> &'a CallSpec {
        wf.calls
            .iter()
            .find(|c| c.role == role)
            .unwrap_or_else(|| panic!("no role {role}"))
    }

    /// Spot checks against the reference §1.9 table, one per plugin and per trait kind.
    #[test]
    fn calls_carry_the_reference_traits() {
        let wf = workflow();
        let sor = find(&wf, "dcs.sor");
        assert_eq!(
            (sor.func.as_str(), sor.trigger.as_str(), sor.critical),
            ("dcs.StartOfRun()", "before_START_ACTIVITY+100", true)
        );
        let pfr = find(&wf, "dcs.pfr");
        assert_eq!(
            (pfr.await_expression(), pfr.critical),
            ("after_CONFIGURE-1", false)
        );
        let odc_start = find(&wf, "odc.start");
        assert_eq!(odc_start.await_expression(), "after_START_ACTIVITY-10");
        assert_eq!(
            find(&wf, "trg.pfr").enabled.to_string(),
            "'TPC' in detectors && trg_enabled == 'true'"
        );
        let kafka = find(&wf, "kafka.before_start_activity");
        assert_eq!(
            Trigger::parse(&kafka.trigger),
            Trigger::new("before_START_ACTIVITY", 50)
        );
        assert_eq!((kafka.timeout.as_str(), kafka.critical), ("5s", false));
        assert_eq!(find(&wf, "kafka.destroy").trigger, "DESTROY");
    }

    #[test]
    fn roles_come_in_the_template_order() {
        let wf = workflow();
        let mut order: Vec<&str> = Vec::new();
        for call in &wf.calls {
            let top = call.role.split('.').next().unwrap_or_default();
            if order.last() != Some(&top) {
                order.push(top);
            }
        }
        assert_eq!(
            order,
            [
                "dcs",
                "dd-scheduler",
                "odc",
                "trg",
                "ccdb",
                "bookkeeping",
                "lhc",
                "kafka"
            ]
        );
    }

    #[test]
    fn every_switch_defaults_to_off_but_data_distribution() {
        let defaults = defaults();
        for switch in [
            "dcs_enabled",
            "trg_enabled",
            "epn_enabled",
            "kafka_enabled",
            "lhc_enabled",
            "ccdb_enabled",
        ] {
            assert_eq!(defaults[switch], "false", "{switch}");
        }
        assert_eq!(defaults["dd_enabled"], "true");
    }
}
