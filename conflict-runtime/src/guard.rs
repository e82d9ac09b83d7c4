//! Guards: why a move that the table allows is refused for this resource
//! now, and what would unblock it.
//!
//! A guard is a function of the resource that allows a move or answers with
//! one or more [`Blocker`]s, each with a machine-readable `code`, a message
//! for people and `parameters`. Guards are declared on the derive
//! (`on(pay -> Paid if credit_limit)`) or registered at runtime
//! (`http::Rules::guard`); every guard of a move runs and their blockers are
//! reported together, so a client sees every reason at once.
//!
//! ```
//! use conflict_runtime::guard::{Blocker, Verdict};
//!
//! struct Order {
//!     quantity: u32,
//! }
//!
//! fn credit_limit(order: &Order) -> Result<(), Blocker> {
//!     if order.quantity > 100 {
//!         return Err(Blocker::new("quantity_limit", "orders over 100 units need a credit review")
//!             .with("quantity", order.quantity)
//!             .with("limit", 100));
//!     }
//!     Ok(())
//! }
//!
//! let mut verdict = Verdict::allow();
//! verdict.add(credit_limit(&Order { quantity: 150 }));
//! verdict.add(credit_limit(&Order { quantity: 7 }));
//! assert_eq!(verdict.blockers().len(), 1);
//! assert_eq!(verdict.blockers()[0].code(), "quantity_limit");
//! ```

use std::any::Any;
use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::machine::StateMachine;

/// One reason a move is blocked: `{"code", "message", "parameters"}` in a
/// problem body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Blocker {
    code: Cow<'static, str>,
    message: String,
    parameters: Map<String, Value>,
}

impl Blocker {
    /// A blocker with a stable `code` (for programs) and a `message` (for people).
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Blocker {
            code: code.into(),
            message: message.into(),
            parameters: Map::new(),
        }
    }

    /// Adds a parameter: what the client needs to act on the blocker
    /// (the limit, the current value).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// The machine-readable code.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for people.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The parameters.
    #[must_use]
    pub fn parameters(&self) -> &Map<String, Value> {
        &self.parameters
    }
}

/// What the guards of one move decided: allowed when no blocker was added.
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Verdict {
    blockers: Vec<Blocker>,
}

impl Verdict {
    /// No blockers yet.
    pub fn allow() -> Self {
        Verdict::default()
    }

    /// Adds what one guard answered; guards compose by adding up their
    /// blockers.
    pub fn add(&mut self, outcome: impl GuardOutcome) {
        outcome.add_to(&mut self.blockers);
    }

    /// Whether no guard blocked the move.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        self.blockers.is_empty()
    }

    /// The blockers, in the order the guards ran.
    #[must_use]
    pub fn blockers(&self) -> &[Blocker] {
        &self.blockers
    }

    /// The blockers, by value.
    #[must_use]
    pub fn into_blockers(self) -> Vec<Blocker> {
        self.blockers
    }
}

/// What a guard function may return: `Result<(), Blocker>` for one reason,
/// `Result<(), Vec<Blocker>>` for several, or a [`Verdict`].
#[diagnostic::on_unimplemented(
    message = "a guard returns `Result<(), Blocker>`, `Result<(), Vec<Blocker>>` or a `Verdict`, not `{Self}`",
    note = "a guard is `fn(&Resource) -> Result<(), conflict_runtime::guard::Blocker>`: `Ok(())` allows the move, `Err(Blocker::new(code, message))` says why not"
)]
pub trait GuardOutcome {
    /// Appends this outcome's blockers.
    fn add_to(self, blockers: &mut Vec<Blocker>);
}

impl GuardOutcome for Result<(), Blocker> {
    fn add_to(self, blockers: &mut Vec<Blocker>) {
        blockers.extend(self.err());
    }
}

impl GuardOutcome for Result<(), Vec<Blocker>> {
    fn add_to(self, blockers: &mut Vec<Blocker>) {
        blockers.extend(self.err().into_iter().flatten());
    }
}

impl GuardOutcome for Verdict {
    fn add_to(self, blockers: &mut Vec<Blocker>) {
        blockers.extend(self.blockers);
    }
}

/// A guard declared on the derive: `on(pay -> Paid if credit_limit)` on
/// state `from` guards `action` from there.
///
/// The derive fills [`StateMachine::GUARDS`] with these. The guard function
/// takes the resource by reference; `check` receives the resource as
/// [`Any`] so that the state enum need not name the resource type.
#[derive(Clone, Copy)]
pub struct DeclaredGuard<S: StateMachine> {
    from: S,
    action: S::Action,
    name: &'static str,
    check: fn(&dyn Any) -> Option<Verdict>,
}

impl<S: StateMachine> DeclaredGuard<S> {
    #[doc(hidden)]
    pub const fn new(
        from: S,
        action: S::Action,
        name: &'static str,
        check: fn(&dyn Any) -> Option<Verdict>,
    ) -> Self {
        DeclaredGuard {
            from,
            action,
            name,
            check,
        }
    }

    /// The state the guarded move leaves.
    pub fn from(&self) -> S {
        self.from
    }

    /// The guarded action.
    pub fn action(&self) -> S::Action {
        self.action
    }

    /// The guard function's path as written (`credit_limit`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the guard on `resource`. A resource of another type than the
    /// guard function takes cannot be judged, so the move is blocked (code
    /// `guard_unavailable`) and the mismatch is a programming error to fix.
    pub fn check<R: Any>(&self, resource: &R) -> Verdict {
        (self.check)(resource).unwrap_or_else(|| {
            let mut verdict = Verdict::allow();
            verdict.add(Err::<(), _>(Blocker::new(
                "guard_unavailable",
                "this move cannot be checked now",
            )));
            verdict
        })
    }
}

impl<S: StateMachine> std::fmt::Debug for DeclaredGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclaredGuard")
            .field("from", &self.from)
            .field("action", &self.action)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The declared guards of the move by `action` from `from`, run on
/// `resource`, added to `verdict`.
pub(crate) fn check_declared<S: StateMachine, R: Any>(
    from: S,
    action: S::Action,
    resource: &R,
    verdict: &mut Verdict,
) {
    for guard in S::GUARDS {
        if guard.from == from && guard.action == action {
            verdict.add(guard.check(resource));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Blocker, Verdict};

    fn at_most(limit: u32) -> impl Fn(u32) -> Result<(), Blocker> {
        move |n| {
            if n > limit {
                Err(Blocker::new("too_many", format!("at most {limit}")).with("limit", limit))
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn guards_compose_by_adding_blockers_in_order() {
        let (ten, five) = (at_most(10), at_most(5));
        let mut verdict = Verdict::allow();
        verdict.add(ten(7));
        verdict.add(five(7));
        verdict.add(Err::<(), _>(vec![
            Blocker::new("a", "first"),
            Blocker::new("b", "second"),
        ]));
        assert!(!verdict.is_allowed());
        let codes: Vec<&str> = verdict.blockers().iter().map(Blocker::code).collect();
        assert_eq!(codes, ["too_many", "a", "b"]);
        assert_eq!(verdict.blockers()[0].parameters()["limit"], 5);
        assert_eq!(verdict.blockers()[0].message(), "at most 5");
    }

    #[test]
    fn no_blockers_is_allowed_and_verdicts_nest() {
        let mut inner = Verdict::allow();
        inner.add(Ok::<(), Blocker>(()));
        inner.add(Ok::<(), Vec<Blocker>>(()));
        assert!(inner.is_allowed());
        let mut outer = Verdict::allow();
        outer.add(inner);
        assert!(outer.is_allowed());
        let mut blocked = Verdict::allow();
        blocked.add(at_most(0)(1));
        outer.add(blocked);
        assert_eq!(outer.into_blockers().len(), 1);
    }

    #[test]
    fn a_blocker_serializes_as_code_message_parameters() {
        let blocker = Blocker::new("quantity_limit", "too many").with("limit", 100);
        assert_eq!(
            serde_json::to_value(&blocker).unwrap(),
            serde_json::json!({"code": "quantity_limit", "message": "too many", "parameters": {"limit": 100}})
        );
    }
}
