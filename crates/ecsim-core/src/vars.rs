//! An environment's variables, layered as AliECS layers them.
//!
//! AliECS resolves a variable through the root role's stack (reference §6,
//! `core/environment/environment.go`): workflow **defaults** (with the global defaults and vars
//! from Consul under them), then workflow **vars**, then **user vars**, each layer overriding
//! the one before. The core writes into two of them: `run_number`, `runNumber` and
//! `last_run_number` go to the workflow vars; runtime values (`enter_state_time_ms`,
//! `run_start_time_ms` …) go to the user vars, which is why `SetRuntimeVar` values win over
//! anything a template sets.

use std::{collections::BTreeMap, iter::Peekable, sync::Arc};

type Layer_ = Arc<BTreeMap<String, String>>;

/// The three layers of an environment's variables.
///
/// Each layer is shared (`Arc`): taking the consolidated view ([`VarStack::consolidated`]) costs
/// a few reference counts whatever the number of variables, and a write copies only the layer
/// it changes, and only while a view of it is still held. Calls take the view far more often
/// than the core writes. The defaults are held in two parts: the workflow's, shared by every
/// environment of the workflow and never copied, and the environment's own (its detectors, its
/// resolved templates), which take precedence.
#[derive(Debug, Clone, Default)]
pub struct VarStack {
    /// The layers; the consolidated view is a clone of them.
    layers: Vars,
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
        Self::with_workflow_defaults(Arc::default(), defaults, user_vars)
    }

    /// A stack over a workflow's shared defaults, with the environment's own defaults (which
    /// take precedence) and user variables.
    pub fn with_workflow_defaults(
        workflow_defaults: Arc<BTreeMap<String, String>>,
        defaults: BTreeMap<String, String>,
        user_vars: BTreeMap<String, String>,
    ) -> Self {
        Self {
            layers: Vars {
                workflow_defaults,
                defaults: Arc::new(defaults),
                role_defaults: Arc::default(),
                vars: Arc::default(),
                user_vars: Arc::new(user_vars),
            },
        }
    }

    fn layer_mut(&mut self, layer: Layer) -> &mut BTreeMap<String, String> {
        Arc::make_mut(match layer {
            Layer::Defaults => &mut self.layers.defaults,
            Layer::Vars => &mut self.layers.vars,
            Layer::User => &mut self.layers.user_vars,
        })
    }

    /// Sets `key` in `layer`.
    pub fn set(&mut self, layer: Layer, key: impl Into<String>, value: impl Into<String>) {
        self.layer_mut(layer).insert(key.into(), value.into());
    }

    /// Removes `key` from `layer` (a lower layer's value, if any, shows through again). The
    /// workflow's own defaults are shared and stay: removing a default removes the
    /// environment's value only.
    pub fn remove(&mut self, layer: Layer, key: &str) {
        let present = match layer {
            Layer::Defaults => self.layers.defaults.contains_key(key),
            Layer::Vars => self.layers.vars.contains_key(key),
            Layer::User => self.layers.user_vars.contains_key(key),
        };
        if present {
            self.layer_mut(layer).remove(key);
        }
    }

    /// The value of `key` in one layer only.
    pub fn get_in(&self, layer: Layer, key: &str) -> Option<&str> {
        match layer {
            Layer::Defaults => self
                .layers
                .defaults
                .get(key)
                .or_else(|| self.layers.workflow_defaults.get(key)),
            Layer::Vars => self.layers.vars.get(key),
            Layer::User => self.layers.user_vars.get(key),
        }
        .map(String::as_str)
    }

    /// The resolved value of `key`: user vars, else workflow vars, else defaults.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.layers.get(key)
    }

    /// Whether `key` resolves to exactly `"true"`, as AliECS's templates compare switches.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }

    /// Whether a variable is true as Go's `strconv.ParseBool` reads it (`1`, `t`, `T`, `TRUE`,
    /// `true`, `True`), where AliECS reads a switch that way (`stop_at_beam_dump`).
    pub fn parses_true(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True")
        )
    }

    /// Every variable, resolved: what a call sees as its var stack and what the after_CREATE
    /// event carries. A snapshot: later writes to the stack do not change it.
    pub fn consolidated(&self) -> Vars {
        self.layers.clone()
    }
}

/// A consolidated var stack, as a call sees it: user vars over workflow vars over defaults.
/// Immutable and cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    user_vars: Layer_,
    vars: Layer_,
    /// The defaults of the role a call belongs to (`dcs_detectors` on the `dcs` role): over the
    /// root's, under its vars, as AliECS wraps a role's stack around its parent's.
    role_defaults: Layer_,
    defaults: Layer_,
    workflow_defaults: Layer_,
}

impl Vars {
    /// The view a call of a role sees: these role defaults under the environment's vars.
    pub fn with_role_defaults(mut self, role_defaults: Arc<BTreeMap<String, String>>) -> Self {
        self.role_defaults = role_defaults;
        self
    }

    /// The resolved value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.user_vars
            .get(key)
            .or_else(|| self.vars.get(key))
            .or_else(|| self.role_defaults.get(key))
            .or_else(|| self.defaults.get(key))
            .or_else(|| self.workflow_defaults.get(key))
            .map(String::as_str)
    }

    /// Every variable once, in key order, with its resolved value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        Merged {
            layers: [
                self.user_vars.iter().peekable(),
                self.vars.iter().peekable(),
                self.role_defaults.iter().peekable(),
                self.defaults.iter().peekable(),
                self.workflow_defaults.iter().peekable(),
            ],
        }
    }

    /// The variables as one map.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The defaults: the environment's own over the workflow's.
    pub fn defaults_map(&self) -> BTreeMap<String, String> {
        let mut map = (*self.workflow_defaults).clone();
        map.extend(self.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
        map
    }

    /// The vars layer.
    pub fn vars_map(&self) -> BTreeMap<String, String> {
        (*self.vars).clone()
    }

    /// The user vars layer (the request's variables, and what the core sets there).
    pub fn user_vars_map(&self) -> BTreeMap<String, String> {
        (*self.user_vars).clone()
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.user_vars.is_empty()
            && self.vars.is_empty()
            && self.role_defaults.is_empty()
            && self.defaults.is_empty()
            && self.workflow_defaults.is_empty()
    }
}

impl From<BTreeMap<String, String>> for Vars {
    /// A view of one map (for plugins tested on their own).
    fn from(map: BTreeMap<String, String>) -> Self {
        Self {
            user_vars: Arc::new(map),
            ..Self::default()
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self::from(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect::<BTreeMap<String, String>>(),
        )
    }
}

/// The layers' entries merged in key order, the upper layer's value winning.
struct Merged<'a> {
    layers: [Peekable<std::collections::btree_map::Iter<'a, String, String>>; 5],
}

impl<'a> Iterator for Merged<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let smallest = self
            .layers
            .iter_mut()
            .filter_map(|layer| layer.peek().map(|(k, _)| k.as_str()))
            .min()?;
        let mut found = None;
        // Layers are in precedence order: the first to hold the key gives its value; the
        // others skip their entry for it.
        for layer in &mut self.layers {
            if layer.peek().is_some_and(|(k, _)| k.as_str() == smallest)
                && let Some((k, v)) = layer.next()
                && found.is_none()
            {
                found = Some((k.as_str(), v.as_str()));
            }
        }
        found
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
        assert_eq!(all.get("a"), Some("user"));
        assert_eq!(all.get("b"), Some("vars"));
        assert_eq!(all.get("c"), Some("default"));
    }

    #[test]
    fn removing_a_layer_value_uncovers_the_one_below_and_refreshes_the_consolidated_view() {
        let mut stack = VarStack::new(map(&[("run_number", "0")]), BTreeMap::new());
        stack.set(Layer::Vars, "run_number", "42");
        assert_eq!(stack.consolidated().get("run_number"), Some("42"));
        stack.remove(Layer::Vars, "run_number");
        assert_eq!(stack.consolidated().get("run_number"), Some("0"));
        assert_eq!(stack.get_in(Layer::Vars, "run_number"), None);
    }

    #[test]
    fn a_view_is_a_snapshot_merged_in_key_order() {
        let mut stack = VarStack::new(
            map(&[("a", "default"), ("c", "default"), ("e", "default")]),
            map(&[("b", "user"), ("c", "user")]),
        );
        stack.set(Layer::Vars, "d", "vars");
        stack.set(Layer::Vars, "e", "vars");
        let view = stack.consolidated();
        stack.set(Layer::User, "a", "later");
        let pairs: Vec<(&str, &str)> = view.iter().collect();
        assert_eq!(
            pairs,
            [
                ("a", "default"),
                ("b", "user"),
                ("c", "user"),
                ("d", "vars"),
                ("e", "vars")
            ]
        );
        assert_eq!(view.len(), 5);
        assert_eq!(stack.consolidated().get("a"), Some("later"));
        assert_eq!(view.to_map().len(), 5);
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

    #[test]
    fn a_switch_go_parses_is_on_for_each_of_go_s_true_spellings() {
        let trues = ["1", "t", "T", "TRUE", "true", "True"];
        let falses = ["0", "f", "false", "yes", "tRuE", ""];
        let stack = VarStack::new(
            trues
                .iter()
                .chain(&falses)
                .enumerate()
                .map(|(n, v)| (n.to_string(), (*v).to_owned()))
                .collect(),
            BTreeMap::new(),
        );
        for (n, value) in trues.iter().chain(&falses).enumerate() {
            let on = n < trues.len();
            assert_eq!(stack.parses_true(&n.to_string()), on, "{value:?}");
        }
        assert!(!stack.parses_true("missing"));
    }
}
