//! An environment's variables, layered as AliECS layers them.
//!
//! AliECS resolves a variable through the root role's stack (reference §6,
//! `core/environment/environment.go`): workflow **defaults** (with the global defaults and vars
//! from Consul under them), then workflow **vars**, then **user vars**, each layer overriding
//! the one before. The core writes into two of them: `run_number`, `runNumber` and
//! `last_run_number` go to the workflow vars; runtime values (`enter_state_time_ms`,
//! `run_start_time_ms` …) go to the user vars, which is why `SetRuntimeVar` values win over
//! anything a template sets.

use std::{collections::BTreeMap, sync::Arc};

/// The three layers of an environment's variables.
#[derive(Debug, Clone, Default)]
pub struct VarStack {
    defaults: BTreeMap<String, String>,
    vars: BTreeMap<String, String>,
    user_vars: BTreeMap<String, String>,
    /// The consolidated view, rebuilt lazily after a change: calls read it far more often than
    /// the core writes.
    consolidated: Option<Arc<BTreeMap<String, String>>>,
}

/// Which layer a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Workflow and global defaults: the bottom layer.
    Defaults,
    /// Workflow vars: `run_number`, `runNumber`, `last_run_number`.
    Vars,
    /// User vars and runtime vars: the top layer.
    User,
}

impl VarStack {
    /// A stack with the given defaults and user variables and no workflow vars.
    pub fn new(defaults: BTreeMap<String, String>, user_vars: BTreeMap<String, String>) -> Self {
        Self {
            defaults,
            vars: BTreeMap::new(),
            user_vars,
            consolidated: None,
        }
    }

    fn layer_mut(&mut self, layer: Layer) -> &mut BTreeMap<String, String> {
        self.consolidated = None;
        match layer {
            Layer::Defaults => &mut self.defaults,
            Layer::Vars => &mut self.vars,
            Layer::User => &mut self.user_vars,
        }
    }

    /// Sets `key` in `layer`.
    pub fn set(&mut self, layer: Layer, key: impl Into<String>, value: impl Into<String>) {
        self.layer_mut(layer).insert(key.into(), value.into());
    }

    /// Removes `key` from `layer` (a lower layer's value, if any, shows through again).
    pub fn remove(&mut self, layer: Layer, key: &str) {
        self.layer_mut(layer).remove(key);
    }

    /// The value of `key` in one layer only.
    pub fn get_in(&self, layer: Layer, key: &str) -> Option<&str> {
        let map = match layer {
            Layer::Defaults => &self.defaults,
            Layer::Vars => &self.vars,
            Layer::User => &self.user_vars,
        };
        map.get(key).map(String::as_str)
    }

    /// The resolved value of `key`: user vars, else workflow vars, else defaults.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.user_vars
            .get(key)
            .or_else(|| self.vars.get(key))
            .or_else(|| self.defaults.get(key))
            .map(String::as_str)
    }

    /// Whether `key` resolves to exactly `"true"`, as AliECS's templates compare switches.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }

    /// Every variable, resolved: what a call sees as its var stack and what the after_CREATE
    /// event carries.
    pub fn consolidated(&mut self) -> Arc<BTreeMap<String, String>> {
        if let Some(consolidated) = &self.consolidated {
            return Arc::clone(consolidated);
        }
        let mut merged = self.defaults.clone();
        merged.extend(self.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged.extend(self.user_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let merged = Arc::new(merged);
        self.consolidated = Some(Arc::clone(&merged));
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn user_vars_win_over_vars_which_win_over_defaults() {
        let mut stack = VarStack::new(
            map(&[("a", "default"), ("b", "default"), ("c", "default")]),
            map(&[("a", "user")]),
        );
        stack.set(Layer::Vars, "a", "vars");
        stack.set(Layer::Vars, "b", "vars");
        assert_eq!(stack.get("a"), Some("user"));
        assert_eq!(stack.get("b"), Some("vars"));
        assert_eq!(stack.get("c"), Some("default"));
        assert_eq!(stack.get("d"), None);
        let all = stack.consolidated();
        assert_eq!(all["a"], "user");
        assert_eq!(all["b"], "vars");
        assert_eq!(all["c"], "default");
    }

    #[test]
    fn removing_a_layer_value_uncovers_the_one_below_and_refreshes_the_consolidated_view() {
        let mut stack = VarStack::new(map(&[("run_number", "0")]), BTreeMap::new());
        stack.set(Layer::Vars, "run_number", "42");
        assert_eq!(stack.consolidated()["run_number"], "42");
        stack.remove(Layer::Vars, "run_number");
        assert_eq!(stack.consolidated()["run_number"], "0");
        assert_eq!(stack.get_in(Layer::Vars, "run_number"), None);
    }

    #[test]
    fn a_switch_is_on_only_when_exactly_true() {
        let stack = VarStack::new(
            map(&[("a", "true"), ("b", "True"), ("c", "1")]),
            BTreeMap::new(),
        );
        assert!(stack.is_true("a"));
        assert!(!stack.is_true("b") && !stack.is_true("c") && !stack.is_true("missing"));
    }
}
