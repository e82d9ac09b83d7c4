//! The derive macro of [`conflict-runtime`](https://docs.rs/conflict-runtime).
//! Use it through `conflict_runtime::StateMachine`; this crate's paths are not
//! stable API.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod ast;
mod attr;
mod bounded;
mod case;
mod diagram;
mod errors;
mod expand;
mod fallback;
mod suggest;
mod valid;

/// Derives `conflict_runtime::StateMachine` for a fieldless enum whose
/// variants are the states of a resource, and declares the legal moves.
///
/// ```
/// use conflict_runtime::{Action, StateMachine};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// #[serde(rename_all = "snake_case")]
/// #[state_machine(resource = "order")]
/// pub enum OrderStatus {
///     #[state(initial, on(pay -> Paid, cancel -> Cancelled))]
///     Pending,
///     #[state(on(ship -> Shipped, cancel -> Cancelled, refund -> Refunded))]
///     Paid,
///     #[state(on(deliver -> Delivered))]
///     Shipped,
///     #[state(terminal)]
///     Delivered,
///     #[state(terminal)]
///     Cancelled,
///     #[state(terminal)]
///     Refunded,
/// }
///
/// // One method per action; an illegal move is an error that names the way out.
/// let paid = OrderStatus::Pending.pay()?;
/// let shipped = paid.ship()?;
/// let refused = shipped.cancel().unwrap_err();
/// assert_eq!(refused.to_string(), "cannot cancel order: it is shipped; allowed: deliver");
///
/// // The generated action enum speaks the same wire names as serde.
/// let action: OrderStatusAction = "cancel".parse()?;
/// assert_eq!(OrderStatus::Paid.apply(action)?, OrderStatus::Cancelled);
/// assert_eq!(OrderStatus::Shipped.name(), "shipped");
///
/// // The move check is a `const fn`.
/// const _: () = assert!(OrderStatus::Paid.can_transition_to(OrderStatus::Refunded));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # On the enum: `#[state_machine(...)]`
///
/// All keys are optional.
///
/// - `resource = "order"`: the resource's name in messages and problem
///   bodies. Default: the enum's name without a `Status` or `State` suffix, in
///   snake case (`OrderStatus` -> `order`).
/// - `action = OrderAction`: the name of the generated action enum. Default:
///   the enum's name followed by `Action` (`OrderStatusAction`).
/// - `crate = path::to::conflict_runtime`: where generated code finds the
///   runtime, for crates that re-export it. Default: `::conflict_runtime`.
///
/// # On each variant: `#[state(...)]`
///
/// - `initial`: a new resource may start in this state. At least one state
///   is initial; several may be.
/// - `on(pay -> Paid, cancel -> Cancelled)`: named moves. The action (`pay`)
///   becomes a variant of the action enum (`Pay`) and a method on the state
///   enum (`status.pay()`). One action may leave several states (`cancel` from
///   `Pending` and from `Paid`), but leads from one state to one target.
/// - `on(pay -> Paid if credit_limit)`: a guarded move. `credit_limit` is a
///   path to a function of the resource, `fn(&Order) -> Result<(), Blocker>`
///   (or `Result<(), Vec<Blocker>>`, or a `Verdict`), that allows the move or
///   says why not; the HTTP layer answers a blocked move with 409 and the
///   blockers. A guard that also takes `&Asking<'_>` sees who asks and the
///   move's input. `if async credit_check` declares an async guard,
///   `async fn(Order) -> ...` or `async fn(Order, Asked) -> ...`, taking the
///   resource by value. See `conflict_runtime::guard::DeclaredGuard`.
/// - `to(Delivered)`: a bare move, allowed through
///   `StateMachine::transition_to` but not named by an action.
/// - `terminal`: the state has no way out. A state without moves must say so.
/// - `allow_unreachable`: keep a state no initial state leads to (data
///   migrated from an older lifecycle, say). Without it that is an error.
///
/// # Wire names
///
/// States and actions are spelled the way serde spells the enum:
/// `#[serde(rename_all = "...")]` on the enum (every serde case convention)
/// and `#[serde(rename = "...")]` on a variant. Actions take the enum's rule:
/// `mark_paid` is the variant `MarkPaid`, spelled `mark_paid` under
/// `snake_case` and `markPaid` under `camelCase`.
///
/// # Checked at compile time
///
/// Each mistake is an error at the offending token, and one build reports all
/// of them: an unknown target state (with a suggestion), a move declared
/// twice, one action leading from one state to two targets, no initial state,
/// a state unreachable from the initial ones, a terminal state with moves, a
/// non-terminal state without any, an unknown or repeated key, an action name
/// that would shadow a generated method, and shapes other than a fieldless,
/// non-generic enum.
///
/// # Generated
///
/// - `impl StateMachine for OrderStatus`, backed by `const` tables: a move
///   check is one indexed load, no hashing and no allocation.
/// - `const fn can_transition_to(self, target)` and `const fn target(self, action)`
///   on the enum, usable in `const` items.
/// - One method per action: `fn pay(self) -> Result<Self, TransitionError<Self>>`.
/// - The action enum, with `Clone`, `Copy`, `Debug`, `Eq`, `Ord`, `Hash`,
///   `Display`, `FromStr`, `Serialize` and `Deserialize`, and
///   `impl conflict_runtime::Action`.
/// - `StateMachine::MERMAID` and `StateMachine::DOT`: diagrams of the machine.
/// - `StateMachine::GUARDS`: the guards declared with `if`.
#[proc_macro_derive(StateMachine, attributes(state_machine, state))]
pub fn derive_state_machine(input: TokenStream) -> TokenStream {
    let input = bounded::bounded(input.into()).into();
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
