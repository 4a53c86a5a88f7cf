//! Who asks for a transition: `common.User`, and the special users AliECS acts as.
//!
//! A request's user becomes the environment's `last_request_user` (a JSON user var, reference
//! §3.3), and every following environment and run event carries it as `lastRequestUser`.
//! Transitions the core starts by itself name a special user (`externalId` 60 LHC for a beam
//! dump, 65 TIMER for auto-stop; reference §1.8).

use ecsim_proto::common::{SpecialUserId, User};

/// A person: a name and, optionally, their ids.
pub fn person(name: impl Into<String>) -> User {
    User {
        external_id: None,
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
/// protobuf struct, whose fields are all `omitempty`.
pub fn to_json(user: &User) -> String {
    let mut object = serde_json::Map::new();
    if let Some(external_id) = user.external_id.filter(|&id| id != 0) {
        object.insert("externalId".into(), external_id.into());
    }
    if let Some(id) = user.id.filter(|&id| id != 0) {
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
    fn the_var_form_leaves_out_empty_fields() {
        assert_eq!(to_json(&lhc()), r#"{"externalId":60,"name":"LHC"}"#);
        assert_eq!(
            to_json(&User {
                external_id: Some(0),
                id: Some(12),
                name: String::new()
            }),
            r#"{"id":12}"#
        );
        assert_eq!(to_json(&User::default()), "{}");
    }
}
