//! What each compile error of `#[derive(StateMachine)]` means, with a wrong
//! declaration and its fix. Every error message names its page here.
//!
//! | page | error |
//! | --- | --- |
//! | [`not_an_enum`] | `#[derive(StateMachine)]` on a struct or union |
//! | [`generics`] | a generic state enum |
//! | [`data_on_state`] | a state that carries data |
//! | [`unknown_key`] | an unknown key in `#[state_machine(...)]` or `#[state(...)]` |
//! | [`duplicate_key`] | the same key twice |
//! | [`move_syntax`] | a named move without `->` |
//! | [`guard_syntax`] | a guard that is not a function path, or on a `to(...)` move |
//! | [`unknown_state`] | a move to a state that is not declared |
//! | [`duplicate_move`] | the same move declared twice |
//! | [`action_two_targets`] | one action leading from one state to two targets |
//! | [`no_initial_state`] | no initial state |
//! | [`unreachable_state`] | a state no initial state leads to |
//! | [`terminal_with_moves`] | a terminal state with moves |
//! | [`dead_end`] | a state with no way out that is not marked terminal |
//! | [`reserved_action_name`] | an action named like a generated method |
//! | [`action_name`] | an action name without a letter |
//! | [`action_clash`] | two actions that become one variant or one wire name |
//! | [`wire_name_clash`] | two states with one wire name |
//! | [`one_wire_name`] | different serde names for serializing and deserializing |
//! | [`action_enum_name`] | an action enum named like the state enum |
//! | [`empty_resource`] | an empty `resource` name |
//! | [`deadline_syntax`] | an `after(...)` that is not a duration and one move |
//! | [`deadline_duration`] | a deadline's duration that does not read, or is zero |
//! | [`deadline_on_terminal`] | a deadline on a terminal state |
//! | [`deadline_action`] | a deadline whose action is not a move of its state |
//! | [`two_deadlines`] | two deadlines on one state |
//! | [`alias_taken`] | an old name that the machine declares, or reads as another state or action |
//! | [`alias_unknown_action`] | an `action_alias` for an action that is not declared |
//! | [`removed_state`] | a `removed(...)` that is not an old name and `-> State` |

/// `#[derive(StateMachine)]` on a struct or union.
///
/// The derive reads the states from the variants of an enum; a struct or a union has none.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine)]
/// struct Order {
///     status: u8,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, to(Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod not_an_enum {}

/// A generic state enum.
///
/// A state enum is a plain list of states: the tables behind every check are constants, so they cannot depend on a type parameter.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum Status<T> {
///     #[state(initial, to(Done))]
///     Open,
///     #[state(terminal)]
///     Done,
///     #[state(allow_unreachable, terminal)]
///     Never(std::marker::PhantomData<T>),
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum Status {
///     #[state(initial, to(Done))]
///     Open,
///     #[state(terminal)]
///     Done,
/// }
/// ```
pub mod generics {}

/// A state that carries data.
///
/// Every state is a unit variant; keep the data on the resource (the struct the store holds) and the state as a plain variant.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid(u32),
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod data_on_state {}

/// An unknown key in `#[state_machine(...)]` or `#[state(...)]`.
///
/// The message lists the keys the attribute accepts. On the enum: `resource`, `action`, `crate`; on a variant: `initial`, `terminal`, `on(...)`, `to(...)`, `allow_unreachable`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(start, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod unknown_key {}

/// The same key twice.
///
/// A key such as `initial` or `resource` is set once; the error points at the second and notes the first.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod duplicate_key {}

/// A named move without `->`.
///
/// A named move is written `action -> State`; a bare move is `to(State)`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod move_syntax {}

/// A guard that is not a path to a function, or a guard on a bare move.
///
/// A guard follows its move: `pay -> Paid if credit_limit`, where
/// `credit_limit` is a function of the resource, `fn(&Order) -> Result<(),
/// Blocker>` (or `Result<(), Vec<Blocker>>`, or a `Verdict`), or of the
/// resource and who asks, `fn(&Order, &Asking<'_>)`; `if async name` names
/// an async one of the resource by value (`async fn(Order)`, `async
/// fn(Order, Asked)`). A move in
/// `to(...)` has no action to guard on the derive: guard entering the state
/// at runtime with `http::Rules::guard_entering`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, to(Paid if credit_limit))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
/// use conflict_runtime::guard::Blocker;
///
/// struct Order {
///     quantity: u32,
/// }
///
/// fn credit_limit(order: &Order) -> Result<(), Blocker> {
///     if order.quantity > 100 {
///         return Err(Blocker::new("quantity_limit", "more than 100 units"));
///     }
///     Ok(())
/// }
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid if credit_limit))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
///
/// let guard = &<OrderStatus as StateMachine>::GUARDS[0];
/// assert_eq!(guard.name(), "credit_limit");
/// assert!(!guard.asks());
/// ```
pub mod guard_syntax {}

/// A move to a state that is not declared.
///
/// Targets name variants of the enum (`Paid`), not wire names (`paid`); the message suggests the closest variant and lists them all.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod unknown_state {}

/// The same move declared twice.
///
/// A move from a state to a target is declared once: twice by the same action, twice as `to(..)`, or as `to(X)` beside an action that already leads to `X`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), to(Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod duplicate_move {}

/// One action leading from one state to two targets.
///
/// `POST /orders/1/close` must mean one thing in each state: an action leads from a state to one target. Give the second move its own action.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(close -> Cancelled, close -> Refunded))]
///     Pending,
///     #[state(terminal)]
///     Cancelled,
///     #[state(terminal)]
///     Refunded,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(cancel -> Cancelled, refund -> Refunded))]
///     Pending,
///     #[state(terminal)]
///     Cancelled,
///     #[state(terminal)]
///     Refunded,
/// }
/// ```
pub mod action_two_targets {}

/// No initial state.
///
/// A new resource starts somewhere: mark that state (or each of several) `initial`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod no_initial_state {}

/// A state no initial state leads to.
///
/// Usually a forgotten move. A state kept on purpose (rows migrated from an older lifecycle) says so with `allow_unreachable`; on a state that is reachable that key is an error too.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Archived,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal, allow_unreachable)]
///     Archived,
/// }
/// ```
pub mod unreachable_state {}

/// A terminal state with moves.
///
/// `terminal` means no way out; remove it, or remove the moves.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal, on(refund -> Pending))]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(on(refund -> Pending))]
///     Paid,
/// }
/// ```
pub mod terminal_with_moves {}

/// A state with no way out that is not marked terminal.
///
/// A state without moves is where a resource ends; say so with `terminal`, so that a forgotten move does not pass unnoticed.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod dead_end {}

/// An action named like a generated method.
///
/// Each action becomes a method on the state enum; `apply`, `name`, `target` and the other methods of `StateMachine` are taken.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(apply -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(submit -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod reserved_action_name {}

/// An action name without a letter.
///
/// An action becomes a variant of the action enum (`mark_paid` is `MarkPaid`), so it needs a letter after any leading underscores.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(_1 -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod action_name {}

/// Two actions that become one variant or one wire name.
///
/// `mark_paid` and `MarkPaid` are both the variant `MarkPaid`; spell an action the same everywhere.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(mark_paid -> Paid))]
///     Pending,
///     #[state(initial, on(MarkPaid -> Paid))]
///     Retrying,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(mark_paid -> Paid))]
///     Pending,
///     #[state(initial, on(mark_paid -> Paid))]
///     Retrying,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod action_clash {}

/// Two states with one wire name.
///
/// A body names a state by its serde name, so two states cannot share one.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
/// #[serde(rename_all = "snake_case")]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[serde(rename = "pending")]
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
/// #[serde(rename_all = "snake_case")]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[serde(rename = "settled")]
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod wire_name_clash {}

/// Different serde names for serializing and deserializing.
///
/// A state or action has one spelling on the wire, in both directions.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[serde(rename(serialize = "paid", deserialize = "settled"))]
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[serde(rename = "paid")]
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod one_wire_name {}

/// An action enum named like the state enum.
///
/// `#[state_machine(action = ...)]` names a second type; it needs a name of its own.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(action = OrderStatus)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(action = OrderAction)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod action_enum_name {}

/// An empty `resource` name.
///
/// The resource's name appears in every message and problem body (`cannot cancel order 42`).
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(resource = " ")]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(resource = "order")]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
pub mod empty_resource {}

/// An `after(...)` that is not a duration and one move.
///
/// A deadline is how long, then the move it makes: `after(30min, expire -> Cancelled)`, or `after(30min, expire)` for a move declared in `on(...)`. Guard it at runtime (`Rules::guard`) rather than on the derive.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min, expire -> Cancelled))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
pub mod deadline_syntax {}

/// A deadline's duration that does not read, or is zero.
///
/// A duration is a whole number and a unit: `s`, `min`, `h` or `d` (`90s`, `30min`, `2h`, `7d`, or with a space, `30 min`). A deadline of zero would fire as the state is entered: make the move itself instead.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(0min, expire -> Cancelled))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min, expire -> Cancelled))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
pub mod deadline_duration {}

/// A deadline on a terminal state.
///
/// Nothing leaves a terminal state, so its deadline could never fire.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(terminal, after(30d, archive -> Archived))]
///     Paid,
///     #[state(terminal)]
///     Archived,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid))]
///     Pending,
///     #[state(after(30d, archive -> Archived))]
///     Paid,
///     #[state(terminal)]
///     Archived,
/// }
/// ```
pub mod deadline_on_terminal {}

/// A deadline whose action is not a move of its state.
///
/// `after(30min, expire)` makes a move the state declares in `on(...)`; to declare the move with its deadline, write its target: `after(30min, expire -> Cancelled)`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min, expire))]
///     Pending,
///     #[state(terminal)]
///     Paid,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min, expire -> Cancelled))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
pub mod deadline_action {}

/// Two deadlines on one state.
///
/// A state has at most one deadline: the first one due would leave the state, and the second could never fire.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min, expire -> Cancelled), after(1h, drop -> Cancelled))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum OrderStatus {
///     #[state(initial, on(pay -> Paid), after(30min, expire -> Cancelled))]
///     Pending,
///     #[state(terminal)]
///     Paid,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
pub mod two_deadlines {}

/// An old name that is taken.
///
/// An alias (`#[state(alias = "shipped")]`, `#[serde(alias = "...")]`, a
/// `removed(old -> State)`, an `action_alias`) is a name the machine no
/// longer declares, read as one state or action: stored rows, history and
/// requests written under it keep working. A name the machine declares, or
/// one already read as another, would mean two things.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum ParcelStatus {
///     #[state(initial, on(dispatch -> Dispatched))]
///     Packed,
///     #[state(terminal, alias = "Packed")]
///     Dispatched,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// enum ParcelStatus {
///     #[state(initial, on(dispatch -> Dispatched))]
///     Packed,
///     #[state(terminal, alias = "Shipped")]
///     Dispatched,
/// }
/// assert_eq!(ParcelStatus::from_name("Shipped"), Some(ParcelStatus::Dispatched));
/// ```
pub mod alias_taken {}

/// An `action_alias` for an action the machine does not declare.
///
/// `action_alias(dispatch = "ship")` reads `ship` as the declared action
/// `dispatch`; the left side names an action of some `on(...)`.
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(action_alias(ship = "send"))]
/// enum ParcelStatus {
///     #[state(initial, on(dispatch -> Dispatched))]
///     Packed,
///     #[state(terminal)]
///     Dispatched,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::{Action, StateMachine};
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(action_alias(dispatch = "ship"))]
/// enum ParcelStatus {
///     #[state(initial, on(dispatch -> Dispatched))]
///     Packed,
///     #[state(terminal)]
///     Dispatched,
/// }
/// assert_eq!(ParcelStatusAction::from_name("ship"), Some(ParcelStatusAction::Dispatch));
/// ```
pub mod alias_unknown_action {}

/// A `removed(...)` that does not read.
///
/// `removed(archived -> Cancelled)` says where the stored rows of a state the
/// machine no longer declares go: they are read as `Cancelled` (a name that
/// is not an identifier is a string, `removed("in-transit" -> Shipped)`).
///
/// ```compile_fail
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(removed(archived))]
/// enum ParcelStatus {
///     #[state(initial, on(cancel -> Cancelled))]
///     Packed,
///     #[state(terminal)]
///     Cancelled,
/// }
/// ```
///
/// Fixed:
///
/// ```
/// use conflict_runtime::StateMachine;
///
/// #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// #[state_machine(removed(archived -> Cancelled))]
/// enum ParcelStatus {
///     #[state(initial, on(cancel -> Cancelled))]
///     Packed,
///     #[state(terminal)]
///     Cancelled,
/// }
/// assert_eq!(ParcelStatus::from_name("archived"), Some(ParcelStatus::Cancelled));
/// ```
pub mod removed_state {}
