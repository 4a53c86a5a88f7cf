//! Who asks for a transition: `common.User`, and the special users AliECS acts as.
//!
//! A request's user becomes the environment's `last_request_user` (a JSON user var, reference
//! §3.3), and every following environment and run event carries it as `lastRequestUser`.
//! Transitions the core starts by itself name a special user (`externalId` 60 LHC for a beam
//! dump, 65 TIMER for auto-stop; reference §1.8).
//!
//! AliECS's clients (the GUI, coconut) always send a person's `externalId`, 0 when they do not
//! know it; `externalId` is an `optional` field, so a 0 is on the wire. Consumers depend on it:
//! ALICE's Bookkeeping finds the run's user by `id` or `externalId` and refuses the run event
//! when the user has neither.

use ecsim_proto::common::{SpecialUserId, User};

/// A person known by name only, as AliECS's GUI sends one it has no id for: `externalId` 0.
pub fn person(name: impl Into<String>) -> User {
    User {
        external_id: Some(0),
        id: None,
        name: name.into(),
    }
}

/// A special user: `User{externalId=<enum>, name=<enum name>}`.
pub fn special(id: SpecialUserId) -> User {
    User {
        external_id: Some(id as i32),
        id: None,
        name: id.as_str_name().to_owned(),
    }
}

/// The user AliECS names for transitions caused by the LHC (beam dump).
pub fn lhc() -> User {
    special(SpecialUserId::Lhc)
}

/// The user AliECS names for transitions caused by the auto-stop timer.
pub fn timer() -> User {
    special(SpecialUserId::Timer)
}

/// The user as AliECS stores it in the `last_request_user` var: Go's `encoding/json` of the
/// generated struct, fields in declaration order, all `omitempty`. The two ids are pointers
/// (`optional` fields), which `omitempty` leaves out only when unset: a 0 is written.
pub fn to_json(user: &User) -> String {
    let mut object = serde_json::Map::new();
    if let Some(external_id) = user.external_id {
        object.insert("externalId".into(), external_id.into());
    }
    if let Some(id) = user.id {
        object.insert("id".into(), id.into());
    }
    if !user.name.is_empty() {
        object.insert("name".into(), user.name.clone().into());
    }
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_users_are_named_after_their_enum_value() {
        assert_eq!(
            lhc(),
            User {
                external_id: Some(60),
                id: None,
                name: "LHC".into()
            }
        );
        assert_eq!(
            timer(),
            User {
                external_id: Some(65),
                id: None,
                name: "TIMER".into()
            }
        );
    }

    #[test]
    fn a_person_known_by_name_has_external_id_zero() {
        let user = person("Jane Shifter");
        assert_eq!(user.external_id, Some(0));
        assert_eq!(user.id, None);
        // On the wire: field 1 (externalId) = 0 is written, as protobuf-go writes a set optional.
        let bytes = ecsim_proto::prost::Message::encode_to_vec(&user);
        assert_eq!(&bytes[..2], &[0x08, 0x00]);
    }

    #[test]
    fn the_var_form_is_go_json_of_the_struct() {
        assert_eq!(to_json(&lhc()), r#"{"externalId":60,"name":"LHC"}"#);
        assert_eq!(
            to_json(&person("Jane Shifter")),
            r#"{"externalId":0,"name":"Jane Shifter"}"#
        );
        // Set optional fields are written even when 0; an empty name is left out.
        assert_eq!(
            to_json(&User {
                external_id: Some(0),
                id: Some(12),
                name: String::new()
            }),
            r#"{"externalId":0,"id":12}"#
        );
        assert_eq!(to_json(&User::default()), "{}");
    }
}
