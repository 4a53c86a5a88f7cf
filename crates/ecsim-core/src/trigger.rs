//! Trigger expressions: a hook moment and a signed weight, `before_START_ACTIVITY+100`.
//!
//! Reference §1.3 (`core/workflow/callable/call.go` ParseTriggerExpression): the expression is
//! split at its LAST `+` or `-`; without one the weight is `+0`; a weight that does not parse is
//! taken as 0 (AliECS logs a warning and carries on, and so does ecsim).

use std::fmt;

/// A hook moment and a weight.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Trigger {
    /// The moment's name: `before_CONFIGURE`, `enter_RUNNING`, `DESTROY`, …
    pub moment: String,
    /// The order within the moment: negative weights run before the moment's built-in work.
    pub weight: i32,
}

impl Trigger {
    /// Parses a trigger expression the way AliECS does; never fails.
    pub fn parse(expression: &str) -> Self {
        match expression.rfind(['+', '-']) {
            Some(split) => {
                let (moment, weight) = expression.split_at(split);
                match weight.parse::<i32>() {
                    Ok(weight) => Self {
                        moment: moment.to_owned(),
                        weight,
                    },
                    Err(_) => {
                        tracing::warn!(
                            expression,
                            "invalid trigger weight definition, defaulting to {moment}+0"
                        );
                        Self {
                            moment: moment.to_owned(),
                            weight: 0,
                        }
                    }
                }
            }
            None => Self {
                moment: expression.to_owned(),
                weight: 0,
            },
        }
    }

    /// A trigger at `moment` with weight `weight`.
    pub fn new(moment: impl Into<String>, weight: i32) -> Self {
        Self {
            moment: moment.into(),
            weight,
        }
    }
}

impl fmt::Display for Trigger {
    /// Writes the canonical expression: `DESTROY` for weight 0, else `before_X+10` / `after_X-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.weight {
            0 => f.write_str(&self.moment),
            weight => write!(f, "{}{weight:+}", self.moment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_last_sign() {
        let cases = [
            ("before_START_ACTIVITY+100", "before_START_ACTIVITY", 100),
            ("after_CONFIGURE-1", "after_CONFIGURE", -1),
            ("DESTROY", "DESTROY", 0),
            ("enter_RUNNING", "enter_RUNNING", 0),
            ("DESTROY-100", "DESTROY", -100),
            ("before_DEPLOY-100", "before_DEPLOY", -100),
            // A weight that does not parse counts as 0, and the moment keeps what preceded the sign.
            ("after_STOP_ACTIVITY+x", "after_STOP_ACTIVITY", 0),
            ("odd-name+5", "odd-name", 5),
        ];
        for (expression, moment, weight) in cases {
            assert_eq!(
                Trigger::parse(expression),
                Trigger::new(moment, weight),
                "{expression}"
            );
        }
    }

    #[test]
    fn displays_the_canonical_expression() {
        assert_eq!(Trigger::new("DESTROY", 0).to_string(), "DESTROY");
        assert_eq!(
            Trigger::new("before_START_ACTIVITY", 50).to_string(),
            "before_START_ACTIVITY+50"
        );
        assert_eq!(
            Trigger::new("after_GO_ERROR", -1).to_string(),
            "after_GO_ERROR-1"
        );
    }
}
