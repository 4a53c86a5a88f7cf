//! Request users: `user = "Jane Shifter"` or `user = { name = "Jane Shifter", external_id = 812,
//! id = 34 }`, in `[scenario]` (the default) and on a step.
//!
//! AliECS's clients always send the person's `externalId` (the GUI sends 0 for a person it does
//! not know), and ALICE's Bookkeeping refuses run events whose user has neither `id` nor
//! `externalId`. So a user written as a name alone gets `externalId` 0, as the GUI would send, and
//! `id` is present only when written.

use ecsim_proto::common::User;
use toml::Value;

use crate::raw::Spanned;

use super::{Checker, closest, span};
use crate::diagnostic::Problem;

/// The user of requests when the scenario names none.
pub(crate) fn default_user() -> User {
    ecsim_core::user::person("ecsim")
}

const KEYS: &[&str] = &["name", "external_id", "id"];

impl Checker {
    /// A user as written, or `None` (with the problems reported).
    pub(super) fn user(&mut self, value: &Spanned<Value>) -> Option<User> {
        let at = span(value);
        let table = match value.get_ref() {
            Value::String(name) => return self.user_name(name, at).map(ecsim_core::user::person),
            Value::Table(table) => table,
            other => {
                self.report(
                    Problem::new(
                        at,
                        format!("a user is a name or a table, not {}", a(other)),
                        "not a user",
                    )
                    .help(r#"write `user = "Jane Shifter"` or `user = { name = "Jane Shifter", external_id = 812 }`"#),
                );
                return None;
            }
        };
        let mut ok = true;
        for key in table.keys().filter(|key| !KEYS.contains(&key.as_str())) {
            let help = match closest(key, KEYS.iter().copied()) {
                Some(known) => format!("did you mean `{known}`?"),
                None => "a user has `name`, `external_id` (the person's id, as AliECS's GUI sends it) and `id`".to_owned(),
            };
            self.report(
                Problem::new(at.clone(), format!("a user has no `{key}`"), "unknown key")
                    .help(help),
            );
            ok = false;
        }
        let name = match table.get("name") {
            Some(Value::String(name)) => self.user_name(name, at.clone()),
            Some(_) => {
                self.report(Problem::new(
                    at.clone(),
                    "a user's `name` is a string",
                    "not a string",
                ));
                None
            }
            None => {
                self.report(
                    Problem::new(at.clone(), "a user needs a `name`", "no name")
                        .help(r#"`user = { name = "Jane Shifter", external_id = 812 }`"#),
                );
                None
            }
        };
        let external_id = self.user_id(table.get("external_id"), "external_id", at.clone());
        let id = self.user_id(table.get("id"), "id", at);
        match (ok, name, external_id, id) {
            (true, Some(name), Ok(external_id), Ok(id)) => Some(User {
                // Absent from the table: what AliECS's GUI sends for a person it does not know.
                external_id: Some(external_id.unwrap_or(0)),
                id,
                name: name.to_owned(),
            }),
            _ => None,
        }
    }

    fn user_name<'v>(&mut self, name: &'v str, at: std::ops::Range<usize>) -> Option<&'v str> {
        if name.trim().is_empty() {
            self.report(
                Problem::new(at, "a user's name is empty", "empty")
                    .help("name the person who makes the requests, e.g. \"Jane Shifter\""),
            );
            return None;
        }
        Some(name)
    }

    /// `external_id` or `id`: `common.User`'s `int32` fields.
    fn user_id(
        &mut self,
        value: Option<&Value>,
        key: &str,
        at: std::ops::Range<usize>,
    ) -> Result<Option<i32>, ()> {
        match value {
            None => Ok(None),
            Some(Value::Integer(n)) => match i32::try_from(*n) {
                Ok(n) if n >= 0 => Ok(Some(n)),
                _ => {
                    self.report(
                        Problem::new(at, format!("a user's `{key}` is {n}"), "out of range")
                            .help(format!("`{key}` is a person's id: 0 to {}", i32::MAX)),
                    );
                    Err(())
                }
            },
            Some(other) => {
                self.report(Problem::new(
                    at,
                    format!(
                        "a user's `{key}` is a whole number, not a {}",
                        other.type_str()
                    ),
                    "not a number",
                ));
                Err(())
            }
        }
    }
}

/// A TOML value's type with its article: "an integer", "a string".
fn a(value: &Value) -> String {
    let kind = value.type_str();
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}
