//! The public variables of the readout-dataflow template, as `GetWorkflowTemplates` lists them:
//! each with its default, type, label, widget, panel, position and conditions, so that a GUI
//! builds its creation form from ecsim as from AliECS.
//!
//! The data (`data/readout-dataflow.varspecs.json`) was extracted from ControlWorkflows'
//! template by `data/extract_varspecs.py`, with AliECS's rule: the `!public` entries of every
//! `defaults` and `vars` mapping. Descriptions are not carried over.

use std::collections::BTreeMap;

use ecsim_proto::o2control::{
    VarSpecMessage,
    var_spec_message::{Type, UiWidget},
};
use serde::Deserialize;

const READOUT_DATAFLOW: &str = include_str!("../data/readout-dataflow.varspecs.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    template: String,
    #[allow(dead_code)] // provenance, for people
    from: String,
    variables: Vec<Variable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Variable {
    name: String,
    #[allow(dead_code)] // AliECS uses it to apply its configuration's vars over defaults
    source: String,
    value: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    widget: String,
    #[serde(default)]
    panel: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    index: i32,
    #[serde(default)]
    rows: u32,
    #[serde(default)]
    visibleif: String,
    #[serde(default)]
    enabledif: String,
}

/// The variable specs of the template named `template`, by variable; empty for a template
/// ecsim has none for.
pub(crate) fn of(template: &str) -> BTreeMap<String, VarSpecMessage> {
    // Checked by this module's test: the embedded file always parses.
    let Ok(file) = serde_json::from_str::<File>(READOUT_DATAFLOW) else {
        return BTreeMap::new();
    };
    if file.template != template {
        return BTreeMap::new();
    }
    file.variables
        .into_iter()
        .map(|v| {
            let spec = VarSpecMessage {
                default_value: v.value,
                // AliECS's conversions: an unknown type is a string, an unknown widget an
                // edit box (`core/serverutil.go`).
                r#type: Type::from_str_name(&v.kind).unwrap_or(Type::String) as i32,
                label: v.label,
                description: String::new(),
                widget: UiWidget::from_str_name(&v.widget).unwrap_or(UiWidget::EditBox) as i32,
                panel: v.panel,
                allowed_values: v.values,
                index: v.index,
                visible_if: v.visibleif,
                enabled_if: v.enabledif,
                rows: v.rows,
            };
            (v.name, spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_specs_parse_and_carry_the_panels_a_gui_needs() {
        let file: File = serde_json::from_str(READOUT_DATAFLOW).expect("the embedded file parses");
        assert!(file.variables.len() > 100, "{}", file.variables.len());
        let specs = of("readout-dataflow");
        assert_eq!(specs.len(), file.variables.len(), "each variable once");
        let dcs = &specs["dcs_enabled"];
        assert_eq!(
            (
                dcs.default_value.as_str(),
                dcs.r#type,
                dcs.widget,
                dcs.panel.as_str()
            ),
            (
                "false",
                Type::Bool as i32,
                UiWidget::CheckBox as i32,
                "General_Configuration"
            )
        );
        let run_type = &specs["run_type"];
        assert_eq!(run_type.widget, UiWidget::ComboBox as i32);
        assert!(run_type.allowed_values.iter().any(|v| v == "PHYSICS"));
        assert!(
            specs.values().any(|s| !s.visible_if.is_empty()),
            "conditions carried over"
        );
        assert!(of("minimal").is_empty());
    }
}
