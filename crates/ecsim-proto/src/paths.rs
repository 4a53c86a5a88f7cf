//! Field paths, as a scenario's expectations write them (`callEvent.callStatus`), checked against
//! the schema: a path that names no field, or an enum value that is not one, would make an
//! expectation look at nothing — and a negative expectation pass by mistake.
//!
//! A path is read as the JSON rendering is written ([`crate::json`]): field names as in the
//! `.proto`, a oneof's member by its field name, a map's entry by its key, a list's element by
//! its index — or, with a field name, every element.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use crate::DESCRIPTOR_POOL;

/// What a path ends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// An enum: its value names, in declaration order.
    Enum {
        /// The enum's full name.
        name: String,
        /// Its values.
        values: Vec<String>,
    },
    /// A message (a value compared with it must be a JSON object).
    Message(String),
    /// A scalar: `string`, `int64`, `bool` …
    Scalar(&'static str),
}

/// Why a path names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// The segment that names nothing.
    pub segment: String,
    /// The path up to it (empty at the top).
    pub before: String,
    /// What it was looked up in: a message's full name, or a scalar's kind.
    pub within: String,
    /// The fields there are, when it was a message (none for a scalar).
    pub fields: Vec<String>,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = if self.before.is_empty() {
            String::new()
        } else {
            format!(" (in `{}`)", self.before)
        };
        if self.fields.is_empty() {
            write!(
                f,
                "`{}` is a {}, which has no field `{}`",
                self.before, self.within, self.segment
            )
        } else {
            write!(f, "{} has no field `{}`{place}", self.within, self.segment)
        }
    }
}

/// Where a walk is: a message, a list of something, a map to something, or a leaf.
enum At {
    Message(MessageDescriptor),
    List(FieldDescriptor),
    Map(FieldDescriptor),
    Leaf(Leaf),
}

fn leaf_of(kind: &Kind) -> Leaf {
    match kind {
        Kind::Message(message) => Leaf::Message(message.full_name().to_owned()),
        Kind::Enum(en) => Leaf::Enum {
            name: en.full_name().to_owned(),
            values: en.values().map(|v| v.name().to_owned()).collect(),
        },
        Kind::String => Leaf::Scalar("string"),
        Kind::Bytes => Leaf::Scalar("bytes"),
        Kind::Bool => Leaf::Scalar("bool"),
        Kind::Double | Kind::Float => Leaf::Scalar("number"),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Leaf::Scalar("int64"),
        Kind::Uint64 | Kind::Fixed64 => Leaf::Scalar("uint64"),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Leaf::Scalar("int32"),
        Kind::Uint32 | Kind::Fixed32 => Leaf::Scalar("uint32"),
    }
}

/// The place a value of `field` puts a walk (its element's, for a list or a map).
fn at_value(kind: Kind) -> At {
    match kind {
        Kind::Message(message) => At::Message(message),
        other => At::Leaf(leaf_of(&other)),
    }
}

fn at_field(field: FieldDescriptor) -> At {
    if field.is_map() {
        At::Map(field)
    } else if field.is_list() {
        At::List(field)
    } else {
        at_value(field.kind())
    }
}

/// Field `segment` of `message`, or the error that says it has none (after `before`).
fn field_of(
    message: &MessageDescriptor,
    segment: &str,
    before: &str,
) -> Result<FieldDescriptor, PathError> {
    message.get_field_by_name(segment).ok_or_else(|| PathError {
        segment: segment.to_owned(),
        before: before.to_owned(),
        within: message.full_name().to_owned(),
        fields: message.fields().map(|f| f.name().to_owned()).collect(),
    })
}

/// What `path` ends on in messages of type `message_type` (a full name: `events.Event`), or why
/// it names nothing. `None` when the type is not in the schema.
pub fn resolve(message_type: &str, path: &str) -> Option<Result<Leaf, PathError>> {
    let root = DESCRIPTOR_POOL.get_message_by_name(message_type)?;
    let mut at = At::Message(root);
    let mut before = String::new();
    for segment in path.split('.') {
        at = match at {
            At::Message(message) => match field_of(&message, segment, &before) {
                Ok(field) => at_field(field),
                Err(error) => return Some(Err(error)),
            },
            // An index picks an element; a field name looks into every element.
            At::List(field) => {
                let element = at_value(field.kind());
                match (segment.parse::<usize>(), element) {
                    (Ok(_), element) => element,
                    (Err(_), At::Message(message)) => match field_of(&message, segment, &before) {
                        Ok(inner) => at_field(inner),
                        Err(error) => return Some(Err(error)),
                    },
                    (Err(_), _) => {
                        return Some(Err(PathError {
                            segment: segment.to_owned(),
                            before,
                            within: "list of scalars (index it with a number)".to_owned(),
                            fields: Vec::new(),
                        }));
                    }
                }
            }
            // Any key: the entry's value.
            At::Map(field) => match field.kind() {
                Kind::Message(entry) => at_value(entry.map_entry_value_field().kind()),
                other => At::Leaf(leaf_of(&other)),
            },
            At::Leaf(leaf) => {
                let within = match leaf {
                    Leaf::Scalar(kind) => kind.to_owned(),
                    Leaf::Enum { name, .. } => format!("enum ({name})"),
                    Leaf::Message(name) => name,
                };
                return Some(Err(PathError {
                    segment: segment.to_owned(),
                    before,
                    within,
                    fields: Vec::new(),
                }));
            }
        };
        if !before.is_empty() {
            before.push('.');
        }
        before.push_str(segment);
    }
    Some(Ok(match at {
        At::Message(message) => Leaf::Message(message.full_name().to_owned()),
        At::List(field) | At::Map(field) => leaf_of(&field.kind()),
        At::Leaf(leaf) => leaf,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_through_oneofs_lists_and_maps_end_on_their_fields() {
        let leaf = resolve("events.Event", "callEvent.callStatus")
            .unwrap()
            .unwrap();
        let Leaf::Enum { name, values } = leaf else {
            panic!("{leaf:?}")
        };
        assert_eq!(name, "events.OpStatus");
        assert!(values.contains(&"DONE_ERROR".to_owned()));
        assert_eq!(
            resolve("events.Event", "callEvent.func").unwrap(),
            Ok(Leaf::Scalar("string"))
        );
        assert_eq!(
            resolve("events.Event", "timestamp").unwrap(),
            Ok(Leaf::Scalar("int64"))
        );
        assert_eq!(
            resolve("kafka.ActiveRunsList", "activeRuns.environmentId").unwrap(),
            Ok(Leaf::Scalar("string"))
        );
        assert_eq!(
            resolve("kafka.ActiveRunsList", "activeRuns.0.environmentId").unwrap(),
            Ok(Leaf::Scalar("string"))
        );
        assert!(resolve("no.Such", "x").is_none());
    }

    #[test]
    fn a_path_that_names_nothing_says_where_and_what_there_is() {
        let error = resolve("events.Event", "calEvent.func")
            .unwrap()
            .unwrap_err();
        assert_eq!(error.segment, "calEvent");
        assert!(error.fields.contains(&"callEvent".to_owned()));
        assert_eq!(error.to_string(), "events.Event has no field `calEvent`");
        let error = resolve("events.Event", "callEvent.fun")
            .unwrap()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "events.Ev_CallEvent has no field `fun` (in `callEvent`)"
        );
        let error = resolve("events.Event", "callEvent.func.x")
            .unwrap()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`callEvent.func` is a string, which has no field `x`"
        );
    }
}
