//! A workflow template, reduced to what the simulation needs: its identity, its default
//! variables, the integration calls of its call roles, and the tasks each host runs.
//!
//! AliECS loads a YAML workflow template into a role tree (reference §1.9). ecsim keeps the tree
//! flat: each call role becomes a [`CallSpec`] carrying its path and its `enabled` condition
//! combined with its parents'. The order of `calls` is the role order of the tree, which is the
//! order AliECS starts calls that share a moment and weight. A caller can extend or replace
//! calls freely; [`crate::readout_dataflow`] builds the standard one.

use std::{collections::BTreeMap, sync::Arc};

use crate::condition::Condition;

/// A workflow template.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Template name, also the root role's name (`readout-dataflow`).
    pub name: String,
    /// Template description (`workflowTemplateInfo.description`).
    pub description: String,
    /// Where the template comes from (`workflowTemplateInfo.path`).
    pub path: String,
    /// Whether the template is tagged `!public` (`workflowTemplateInfo.public`).
    pub public: bool,
    /// Default values of variables; a value may be a `{{ … }}` template, resolved once when an
    /// environment is created (see [`crate::condition::resolve_template`]). Shared by every
    /// environment of the workflow, never copied.
    pub defaults: Arc<BTreeMap<String, String>>,
    /// Call roles, in role order.
    pub calls: Vec<CallSpec>,
    /// The tasks every host of an environment runs, in order. An environment with more tasks
    /// per host than classes here numbers the extra ones (see [`Workflow::tasks_for_host`]).
    pub task_classes: Vec<TaskClass>,
    /// Task hooks: tasks of every host that run a command at a moment rather than follow the
    /// environment (`fairmq-shmmonitor` at DESTROY).
    pub hook_tasks: Vec<HookTask>,
    /// Defaults defined on a role rather than the root, by role path below the root (`dcs`):
    /// the calls of that role and the roles under it see them, the root's variables do not.
    /// Values may be templates, resolved when an environment is created.
    pub role_defaults: BTreeMap<String, BTreeMap<String, String>>,
}

/// A call role: the integration function it calls and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    /// The role's path below the root, e.g. `dcs.sor`; the full path is `<workflow>.dcs.sor`.
    pub role: String,
    /// The function expression, e.g. `dcs.StartOfRun()`.
    pub func: String,
    /// When the call starts: a trigger expression such as `before_START_ACTIVITY+100`.
    pub trigger: String,
    /// When the call is awaited; `None` means at its trigger (AliECS's default).
    pub await_expr: Option<String>,
    /// The timeout trait as written (`140s` or `{{ dcs_sor_timeout }}`); AliECS's default is 30s.
    pub timeout: String,
    /// Whether a failure fails the moment (AliECS's default is true).
    pub critical: bool,
    /// The role's `enabled` condition, combined with its parents'.
    pub enabled: Condition,
    /// The variable the call's output is stored in (`return:`), if any.
    pub return_var: Option<String>,
}

impl CallSpec {
    /// A call with AliECS's default traits: awaited at its trigger, 30s timeout, critical,
    /// always enabled.
    pub fn new(
        role: impl Into<String>,
        func: impl Into<String>,
        trigger: impl Into<String>,
    ) -> Self {
        Self {
            role: role.into(),
            func: func.into(),
            trigger: trigger.into(),
            await_expr: None,
            timeout: "30s".to_owned(),
            critical: true,
            enabled: Condition::Always,
            return_var: None,
        }
    }

    /// Sets the await expression.
    pub fn awaited_at(mut self, await_expr: impl Into<String>) -> Self {
        self.await_expr = Some(await_expr.into());
        self
    }

    /// Sets the timeout trait.
    pub fn timeout(mut self, timeout: impl Into<String>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Sets the critical trait.
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// Adds a condition to the role's `enabled` condition.
    pub fn enabled_if(mut self, condition: Condition) -> Self {
        self.enabled = self.enabled.and(condition);
        self
    }

    /// The await expression in effect: the trigger when none was given.
    pub fn await_expression(&self) -> &str {
        self.await_expr.as_deref().unwrap_or(&self.trigger)
    }
}

/// A kind of task a host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskClass {
    /// The task role's name (`readout`).
    pub name: String,
    /// The aggregator role between the host role and the task role, if any
    /// (`data-distribution` for the StfBuilder and StfSender).
    pub group: Option<String>,
    /// The task class (`github.com/AliceO2Group/ControlWorkflows/tasks/readout@master`).
    pub class_name: String,
}

/// A task hook of every host: a task deployed with the others that runs its command when its
/// trigger comes (AliECS's hook tasks, control mode HOOK), then finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookTask {
    /// The task role's name under the host (`fairmq-shmmonitor`).
    pub name: String,
    /// The task class.
    pub class_name: String,
    /// When it runs: a trigger expression (`DESTROY`).
    pub trigger: String,
    /// The timeout trait, as written (a template allowed).
    pub timeout: String,
    /// Whether its role counts for its host.
    pub critical: bool,
    /// Its role's `enabled` condition.
    pub enabled: Condition,
    /// Only on the hosts of this detector (`its-cru-enable`: ITS).
    pub detector: Option<String>,
}

/// Splits a call's function expression, `plugin.Function()`, into plugin and function names;
/// `None` when it is not of that form (the only form ecsim evaluates).
pub fn split_func(func: &str) -> Option<(&str, &str)> {
    let call = func.trim().strip_suffix("()")?;
    let (plugin, function) = call.split_once('.')?;
    let identifier = |s: &str| {
        s.as_bytes()
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    };
    (identifier(plugin) && identifier(function)).then_some((plugin, function))
}

/// Every hook moment the core raises: `before_`/`after_` of each event, `enter_`/`leave_` of
/// each state, and teardown's `DESTROY` and `after_DESTROY`. A trigger naming anything else
/// never fires.
pub fn known_moments() -> Vec<String> {
    crate::trigger::Moment::all()
        .iter()
        .map(ToString::to_string)
        .collect()
}

impl Workflow {
    /// The full path of a call role.
    pub fn role_path(&self, role: &str) -> String {
        format!("{}.{role}", self.name)
    }

    /// Adds a call role after the existing ones.
    pub fn add_call(&mut self, call: CallSpec) {
        self.calls.push(call);
    }

    /// Removes every call role at `role` or below it (`dcs` removes `dcs.sor`, `dcs.eor`, …) and
    /// returns how many were removed.
    pub fn remove_calls(&mut self, role: &str) -> usize {
        let before = self.calls.len();
        self.calls
            .retain(|call| call.role != role && !call.role.starts_with(&format!("{role}.")));
        before - self.calls.len()
    }

    /// The tasks of one host: the task classes in order, and past them numbered copies of the
    /// classes (`readout-2`, `stfb-2`, …) until there are `count`.
    pub fn tasks_for_host(&self, count: usize) -> Vec<TaskClass> {
        if self.task_classes.is_empty() {
            return Vec::new();
        }
        (0..count)
            .map(|i| {
                let class = &self.task_classes[i % self.task_classes.len()];
                let round = i / self.task_classes.len();
                TaskClass {
                    name: if round == 0 {
                        class.name.clone()
                    } else {
                        format!("{}-{}", class.name, round + 1)
                    },
                    group: class.group.clone(),
                    class_name: class.class_name.clone(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow() -> Workflow {
        Workflow {
            name: "wf".into(),
            description: String::new(),
            path: String::new(),
            public: false,
            defaults: Arc::default(),
            calls: vec![
                CallSpec::new("dcs.sor", "dcs.StartOfRun()", "before_START_ACTIVITY+100"),
                CallSpec::new("dcs.eor", "dcs.EndOfRun()", "after_STOP_ACTIVITY-50"),
                CallSpec::new("dcsx", "dcsx.Foo()", "DESTROY"),
            ],
            role_defaults: BTreeMap::new(),
            hook_tasks: Vec::new(),
            task_classes: vec![
                TaskClass {
                    name: "readout".into(),
                    group: None,
                    class_name: "r".into(),
                },
                TaskClass {
                    name: "stfb".into(),
                    group: Some("data-distribution".into()),
                    class_name: "b".into(),
                },
            ],
        }
    }

    #[test]
    fn call_defaults_are_aliecs_defaults() {
        let call = CallSpec::new("x", "x.Y()", "before_CONFIGURE");
        assert_eq!(call.await_expression(), "before_CONFIGURE");
        assert_eq!(call.timeout, "30s");
        assert!(call.critical);
        assert_eq!(call.enabled, Condition::Always);
    }

    #[test]
    fn removing_a_role_removes_its_subtree_only() {
        let mut wf = workflow();
        assert_eq!(wf.remove_calls("dcs"), 2);
        assert_eq!(wf.calls.len(), 1);
        assert_eq!(wf.calls[0].role, "dcsx");
    }

    #[test]
    fn extra_tasks_are_numbered_copies_of_the_classes() {
        let names: Vec<String> = workflow()
            .tasks_for_host(5)
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            names,
            ["readout", "stfb", "readout-2", "stfb-2", "readout-3"]
        );
        assert_eq!(workflow().role_path("dcs.sor"), "wf.dcs.sor");
    }
}
