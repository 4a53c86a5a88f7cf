//! The ids AliECS gives what it creates: environments and tasks.
//!
//! Both are Sonyflake ids written in base58 (`2oDvieFrVTi`, reference §6), made by the core's
//! seeded generator. They are types of their own so that an environment id is never taken for
//! a task id, a name or a detector: ids and names are both strings on the wire, not in the code.

use std::{borrow::Borrow, fmt};

/// An environment's id, as AliECS writes it in every event of the environment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvironmentId(String);

/// A task's id (`taskid` of `aliecs.task` events; the task's name is its class and this id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TaskId(String);

macro_rules! string_id {
    ($id:ident) => {
        impl $id {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// An id as a client sends it: any text (an id the core never gave is unknown to it).
        impl From<&str> for $id {
            fn from(text: &str) -> Self {
                Self(text.to_owned())
            }
        }

        impl From<String> for $id {
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl From<$id> for String {
            fn from(id: $id) -> Self {
                id.0
            }
        }

        impl Borrow<str> for $id {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $id {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $id {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(EnvironmentId);
string_id!(TaskId);
