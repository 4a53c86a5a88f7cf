//! `enabled` conditions and `{{ … }}` templates: the small part of AliECS's template language
//! that the standard workflow needs.
//!
//! AliECS evaluates workflow templates with expr-lang (reference §1.4); its `readout-dataflow`
//! uses a handful of forms to switch roles on and derive defaults:
//! `dcs_enabled == 'true'`, `bookkeeping_consuming_kafka != 'true'`,
//! `'TPC' in json.Unmarshal(detectors)`, `!strings.IsFalsy(auto_stop_timeout)`, joined with `&&`.
//! ecsim understands exactly these, and says so when given anything else, rather than guessing
//! at a general expression language.

use std::{fmt, str::FromStr};

/// A boolean condition over an environment's variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always true (a role without `enabled`).
    Always,
    /// `var == 'value'`
    Equals { var: String, value: String },
    /// `var != 'value'`
    NotEquals { var: String, value: String },
    /// `'DET' in json.Unmarshal(detectors)`: the `detectors` JSON list holds DET.
    DetectorsContain(String),
    /// `strings.IsFalsy(var)`: the variable is empty or, in any case and trimmed, one of
    /// "false", "no", "n", "0", "off", "none" (`configuration/template/stack.go`).
    Falsy(String),
    /// `!strings.IsFalsy(var)`.
    NotFalsy(String),
    /// `a && b && …`
    All(Vec<Condition>),
}

impl Condition {
    /// `var == 'true'`, the usual switch.
    pub fn is_true(var: &str) -> Self {
        Condition::Equals {
            var: var.to_owned(),
            value: "true".to_owned(),
        }
    }

    /// Both conditions.
    pub fn and(self, other: Condition) -> Self {
        match (self, other) {
            (Condition::Always, other) | (other, Condition::Always) => other,
            (Condition::All(mut all), Condition::All(more)) => {
                all.extend(more);
                Condition::All(all)
            }
            (Condition::All(mut all), other) | (other, Condition::All(mut all)) => {
                all.push(other);
                Condition::All(all)
            }
            (a, b) => Condition::All(vec![a, b]),
        }
    }

    /// Evaluates the condition, reading variables through `lookup`. A missing variable is an
    /// empty string, as in AliECS's templates.
    pub fn evaluate<'a>(&self, lookup: &impl Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            Condition::Always => true,
            Condition::Equals { var, value } => lookup(var).unwrap_or("") == value,
            Condition::NotEquals { var, value } => lookup(var).unwrap_or("") != value,
            Condition::DetectorsContain(detector) => lookup("detectors")
                .and_then(|json| serde_json::from_str::<Vec<String>>(json).ok())
                .is_some_and(|detectors| detectors.iter().any(|d| d == detector)),
            Condition::Falsy(var) => is_falsy(lookup(var).unwrap_or("")),
            Condition::NotFalsy(var) => !is_falsy(lookup(var).unwrap_or("")),
            Condition::All(all) => all.iter().all(|c| c.evaluate(lookup)),
        }
    }
}

/// AliECS's `strings.IsFalsy`.
fn is_falsy(value: &str) -> bool {
    let value = value.trim().to_lowercase();
    value.is_empty() || ["false", "no", "n", "0", "off", "none"].contains(&value.as_str())
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Always => f.write_str("true"),
            Condition::Equals { var, value } => write!(f, "{var} == '{value}'"),
            Condition::NotEquals { var, value } => write!(f, "{var} != '{value}'"),
            Condition::DetectorsContain(detector) => write!(f, "'{detector}' in detectors"),
            Condition::Falsy(var) => write!(f, "strings.IsFalsy({var})"),
            Condition::NotFalsy(var) => write!(f, "!strings.IsFalsy({var})"),
            Condition::All(all) => {
                for (i, condition) in all.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" && ")?;
                    }
                    write!(f, "{condition}")?;
                }
                Ok(())
            }
        }
    }
}

/// Why a condition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read condition `{text}`: {reason}; ecsim understands `var == 'value'`, \
     `var != 'value'`, `'DET' in detectors`, `strings.IsFalsy(var)`, `!strings.IsFalsy(var)` \
     and `true`, joined with `&&`"
)]
pub struct ConditionError {
    /// The text that was read.
    pub text: String,
    /// What was wrong with it.
    pub reason: String,
}

fn quoted(text: &str) -> Option<&str> {
    let text = text.trim();
    let inner = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\''));
    inner.or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))
}

/// The variable of `strings.IsFalsy(var)`.
fn falsy_argument(call: &str) -> Option<&str> {
    call.strip_prefix("strings.IsFalsy(")
        .and_then(|rest| rest.strip_suffix(')'))
        .map(str::trim)
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl FromStr for Condition {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: &str| ConditionError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let inner = text.trim();
        let inner = inner
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .unwrap_or(inner)
            .trim();
        if inner.is_empty() {
            return Err(error("it is empty"));
        }
        let mut parts = Vec::new();
        for part in inner.split("&&").map(str::trim) {
            let condition = if part == "true" {
                Condition::Always
            } else if let Some(var) = part
                .strip_prefix('!')
                .map(str::trim)
                .and_then(falsy_argument)
            {
                if !is_identifier(var) {
                    return Err(error(&format!("`{var}` is not a variable name")));
                }
                Condition::NotFalsy(var.to_owned())
            } else if let Some(var) = falsy_argument(part) {
                if !is_identifier(var) {
                    return Err(error(&format!("`{var}` is not a variable name")));
                }
                Condition::Falsy(var.to_owned())
            } else if let Some((left, right)) = part.split_once("==") {
                let (var, value) = (
                    left.trim(),
                    quoted(right).ok_or_else(|| error("the value must be quoted"))?,
                );
                if !is_identifier(var) {
                    return Err(error(&format!("`{var}` is not a variable name")));
                }
                Condition::Equals {
                    var: var.to_owned(),
                    value: value.to_owned(),
                }
            } else if let Some((left, right)) = part.split_once("!=") {
                let (var, value) = (
                    left.trim(),
                    quoted(right).ok_or_else(|| error("the value must be quoted"))?,
                );
                if !is_identifier(var) {
                    return Err(error(&format!("`{var}` is not a variable name")));
                }
                Condition::NotEquals {
                    var: var.to_owned(),
                    value: value.to_owned(),
                }
            } else if let Some((left, right)) = part.split_once(" in ") {
                let detector = quoted(left).ok_or_else(|| error("the detector must be quoted"))?;
                let list = right.trim();
                if list != "detectors" && list != "json.Unmarshal(detectors)" {
                    return Err(error("only `detectors` can be searched with `in`"));
                }
                Condition::DetectorsContain(detector.to_owned())
            } else {
                return Err(error(&format!("`{part}` is not a comparison")));
            };
            parts.push(condition);
        }
        Ok(parts.into_iter().fold(Condition::Always, Condition::and))
    }
}

/// Resolves a template value: `{{ var }}` is the variable's value (empty when unset),
/// `{{ condition }}` is `"true"` or `"false"`, anything else is returned as written.
pub fn resolve_template<'a>(value: &str, lookup: &impl Fn(&str) -> Option<&'a str>) -> String {
    let trimmed = value.trim();
    let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
    else {
        return value.to_owned();
    };
    let inner = inner.trim();
    if is_identifier(inner) {
        return lookup(inner).unwrap_or("").to_owned();
    }
    // `json.Marshal(json.Sort(json.Unmarshal(var)))`: a JSON list, sorted.
    if let Some(var) = inner
        .strip_prefix("json.Marshal(json.Sort(json.Unmarshal(")
        .and_then(|rest| rest.strip_suffix(")))"))
        .map(str::trim)
        .filter(|var| is_identifier(var))
    {
        let mut list: Vec<String> =
            serde_json::from_str(lookup(var).unwrap_or("[]")).unwrap_or_default();
        list.sort();
        return serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned());
    }
    match inner.parse::<Condition>() {
        Ok(condition) => condition.evaluate(lookup).to_string(),
        Err(error) => {
            tracing::warn!(%error, "template left unresolved");
            value.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn eval(condition: &str, vars: &BTreeMap<String, String>) -> bool {
        condition
            .parse::<Condition>()
            .unwrap()
            .evaluate(&|k| vars.get(k).map(String::as_str))
    }

    #[test]
    fn reads_the_forms_readout_dataflow_uses() {
        let v = vars(&[
            ("dcs_enabled", "true"),
            ("bookkeeping_consuming_kafka", "true"),
            ("detectors", r#"["ITS","TPC"]"#),
        ]);
        assert!(eval("{{dcs_enabled == 'true'}}", &v));
        assert!(!eval("{{ bookkeeping_consuming_kafka != 'true' }}", &v));
        assert!(eval("{{'TPC' in json.Unmarshal(detectors)}}", &v));
        assert!(!eval("'MCH' in detectors", &v));
        assert!(eval("dcs_enabled == 'true' && 'ITS' in detectors", &v));
        assert!(
            !eval("dcs_enabled == 'true' && trg_enabled == 'true'", &v),
            "unset is empty"
        );
        assert!(eval("true", &v));
    }

    #[test]
    fn is_falsy_is_aliecs_strings_is_falsy() {
        for (value, falsy) in [
            ("", true),
            ("none", true),
            (" None ", true),
            ("OFF", true),
            ("0", true),
            ("n", true),
            ("2m", false),
            ("true", false),
        ] {
            let v = vars(&[("auto_stop_timeout", value)]);
            assert_eq!(
                eval("strings.IsFalsy(auto_stop_timeout)", &v),
                falsy,
                "{value:?}"
            );
            assert_eq!(
                eval("{{ !strings.IsFalsy(auto_stop_timeout) }}", &v),
                !falsy,
                "{value:?}"
            );
        }
        assert!(eval("strings.IsFalsy(unset)", &vars(&[])));
    }

    #[test]
    fn displays_what_it_reads() {
        for text in [
            "dcs_enabled == 'true'",
            "a != 'b' && 'TPC' in detectors",
            "!strings.IsFalsy(auto_stop_timeout)",
            "strings.IsFalsy(x)",
            "true",
        ] {
            assert_eq!(text.parse::<Condition>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn refuses_what_it_does_not_understand_and_says_what_it_does() {
        for text in [
            "",
            "dcs_enabled",
            "dcs_enabled == true",
            "a || b",
            "'TPC' in hosts",
            "1a == 'x'",
        ] {
            let error = text.parse::<Condition>().unwrap_err();
            assert!(error.to_string().contains("ecsim understands"), "{error}");
        }
    }

    #[test]
    fn templates_resolve_variables_and_conditions() {
        let v = vars(&[
            ("epn_enabled", "true"),
            ("dd_enabled", "false"),
            ("dcs_sor_timeout", "140s"),
        ]);
        let lookup = |k: &str| v.get(k).map(String::as_str);
        assert_eq!(resolve_template("{{ dcs_sor_timeout }}", &lookup), "140s");
        assert_eq!(resolve_template("{{ missing }}", &lookup), "");
        assert_eq!(resolve_template("5s", &lookup), "5s");
        assert_eq!(
            resolve_template(
                "{{ epn_enabled == 'true' && dd_enabled == 'true' }}",
                &lookup
            ),
            "false"
        );
        assert_eq!(resolve_template("{{ epn_enabled }}", &lookup), "true");
        let detectors = vars(&[("detectors", r#"["TPC","ITS"]"#)]);
        assert_eq!(
            resolve_template(
                "{{ json.Marshal(json.Sort(json.Unmarshal(detectors))) }}",
                &|k| detectors.get(k).map(String::as_str)
            ),
            r#"["ITS","TPC"]"#
        );
    }
}
