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
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::machine::StateMachine;
use crate::moves::{Asked, Asking};
use crate::store::Resource;

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
/// The derive fills [`StateMachine::GUARDS`] with these. A declared guard
/// has one of four shapes, told apart by its parameters:
///
/// | declared as | the function |
/// | --- | --- |
/// | `if credit_limit` | `fn(&Order) -> O` |
/// | `if own_order` | `fn(&Order, &Asking<'_>) -> O` (who asks, with what input) |
/// | `if async credit_check` | `fn(Order) -> impl Future<Output = O>` |
/// | `if async own_order` | `fn(Order, Asked) -> impl Future<Output = O>` |
///
/// where `O` is a [`GuardOutcome`]. The resource reaches the guard as
/// [`Any`], so that the state enum need not name the resource type.
#[derive(Clone, Copy)]
pub struct DeclaredGuard<S: StateMachine> {
    from: S,
    action: S::Action,
    name: &'static str,
    judge: fn(Judging<'_>) -> Judged,
}

/// What the derive's code is asked of its guard function.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum Judging<'r> {
    /// Whether the guard sees who asks.
    Shape,
    /// Its verdict on a resource, as `Asking` asks.
    Resource(&'r dyn Any, &'r Asking<'r>),
}

/// What the derive's code answers.
#[doc(hidden)]
pub enum Judged {
    Asks(bool),
    /// The resource is not of the type the guard function takes.
    Unavailable,
    Now(Verdict),
    Later(Pin<Box<dyn Future<Output = Verdict> + Send>>),
}

impl<S: StateMachine> DeclaredGuard<S> {
    #[doc(hidden)]
    pub const fn new(
        from: S,
        action: S::Action,
        name: &'static str,
        judge: fn(Judging<'_>) -> Judged,
    ) -> Self {
        DeclaredGuard {
            from,
            action,
            name,
            judge,
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

    /// Whether the guard sees who asks and with what input.
    pub fn asks(&self) -> bool {
        matches!((self.judge)(Judging::Shape), Judged::Asks(true))
    }

    /// Runs the guard on `resource`, as `asking` asks. A resource of
    /// another type than the guard function takes cannot be judged, so the
    /// move is blocked (code `guard_unavailable`) and the mismatch is a
    /// programming error to fix.
    pub async fn check<R: Any>(&self, resource: &R, asking: &Asking<'_>) -> Verdict {
        let judged = (self.judge)(Judging::Resource(resource, asking));
        match judged {
            Judged::Now(verdict) => verdict,
            Judged::Later(verdict) => verdict.await,
            Judged::Asks(_) | Judged::Unavailable => {
                let mut verdict = Verdict::allow();
                verdict.add(Err::<(), _>(Blocker::new(
                    "guard_unavailable",
                    "this move cannot be checked now",
                )));
                verdict
            }
        }
    }
}

impl<S: StateMachine> std::fmt::Debug for DeclaredGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclaredGuard")
            .field("from", &self.from)
            .field("action", &self.action)
            .field("name", &self.name)
            .field("asks", &self.asks())
            .finish_non_exhaustive()
    }
}

/// The declared guards of the move by `action` from `from`, run on
/// `resource` as `asking` asks, added to `verdict`.
pub(crate) async fn check_declared<S: StateMachine, R: Any>(
    from: S,
    action: S::Action,
    resource: &R,
    asking: &Asking<'_>,
    verdict: &mut Verdict,
) {
    for guard in S::GUARDS {
        if guard.from == from && guard.action == action {
            verdict.add(guard.check(resource, asking).await);
        }
    }
}

/// The shapes of a guard's parameters, for the derive's code to tell them
/// apart by type, as axum tells handlers apart by their extractors.
#[doc(hidden)]
pub mod shape {
    /// `fn(&R)` or, async, `fn(R)`.
    pub struct OfResource;
    /// `fn(&R, &Asking<'_>)` or, async, `fn(R, Asked)`.
    pub struct OfAsking;
}

/// A guard declared with `if name`: a function of the resource, and maybe
/// of who asks.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take the parameters of a guard",
    label = "a guard takes `&Resource`, or `&Resource` and `&Asking<'_>`",
    note = "a guard is `fn(&Order) -> Result<(), Blocker>`, or `fn(&Order, &conflict_runtime::moves::Asking<'_>) -> Result<(), Blocker>` to see who asks and with what input; an async guard is declared `if async name`"
)]
pub trait SyncGuard<R, Shape> {
    /// Whether it sees who asks.
    const ASKS: bool;
    /// What it returns.
    type Outcome;
    /// Calls it.
    fn call(&self, resource: &R, asking: &Asking<'_>) -> Self::Outcome;
}

impl<R, O, F: Fn(&R) -> O> SyncGuard<R, shape::OfResource> for F {
    const ASKS: bool = false;
    type Outcome = O;
    fn call(&self, resource: &R, _: &Asking<'_>) -> O {
        self(resource)
    }
}

impl<R, O, F: Fn(&R, &Asking<'_>) -> O> SyncGuard<R, shape::OfAsking> for F {
    const ASKS: bool = true;
    type Outcome = O;
    fn call(&self, resource: &R, asking: &Asking<'_>) -> O {
        self(resource, asking)
    }
}

/// A guard declared with `if async name`: an async function of a copy of
/// the resource, and maybe of who asks.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take the parameters of an async guard",
    label = "an async guard takes `Resource`, or `Resource` and `Asked`, by value",
    note = "an async guard is `async fn(Order) -> Result<(), Blocker>`, or `async fn(Order, conflict_runtime::moves::Asked) -> Result<(), Blocker>` to see who asks and with what input: its future outlives the request's borrows"
)]
pub trait AsyncGuard<R, Shape> {
    /// Whether it sees who asks.
    const ASKS: bool;
    /// The future it returns.
    type Future;
    /// Calls it.
    fn call(&self, resource: R, asking: &Asking<'_>) -> Self::Future;
}

// `R: Resource`: an `async fn(&Order)` would otherwise be taken with
// `R = &'static Order`, which no resource ever is.
impl<R: Resource, Fut, F: Fn(R) -> Fut> AsyncGuard<R, shape::OfResource> for F {
    const ASKS: bool = false;
    type Future = Fut;
    fn call(&self, resource: R, _: &Asking<'_>) -> Fut {
        self(resource)
    }
}

impl<R: Resource, Fut, F: Fn(R, Asked) -> Fut> AsyncGuard<R, shape::OfAsking> for F {
    const ASKS: bool = true;
    type Future = Fut;
    fn call(&self, resource: R, asking: &Asking<'_>) -> Fut {
        self(resource, asking.asked())
    }
}

/// The derive's code for `if name`: runs `guard` on the resource when it
/// is the guard's resource type.
#[doc(hidden)]
pub fn judge_now<R: Any, Shape, G: SyncGuard<R, Shape>>(guard: &G, judging: Judging<'_>) -> Judged
where
    G::Outcome: GuardOutcome,
{
    let Judging::Resource(resource, asking) = judging else {
        return Judged::Asks(G::ASKS);
    };
    let Some(resource) = <dyn Any>::downcast_ref::<R>(resource) else {
        return Judged::Unavailable;
    };
    let mut verdict = Verdict::allow();
    verdict.add(guard.call(resource, asking));
    Judged::Now(verdict)
}

/// The derive's code for `if async name`: starts `guard` on a copy of the
/// resource when it is the guard's resource type.
#[doc(hidden)]
pub fn judge_later<R: Resource, Shape, G: AsyncGuard<R, Shape>>(
    guard: &G,
    judging: Judging<'_>,
) -> Judged
where
    G::Future: Future + Send + 'static,
    <G::Future as Future>::Output: GuardOutcome,
{
    let Judging::Resource(resource, asking) = judging else {
        return Judged::Asks(G::ASKS);
    };
    let Some(resource) = <dyn Any>::downcast_ref::<R>(resource) else {
        return Judged::Unavailable;
    };
    let outcome = guard.call(resource.clone(), asking);
    Judged::Later(Box::pin(async move {
        let mut verdict = Verdict::allow();
        verdict.add(outcome.await);
        verdict
    }))
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
