//! Behaviour of everything `#[derive(StateMachine)]` generates.

use conflict_runtime::{Action, NameKind, StateMachine};
use serde::{Deserialize, Serialize};

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "order")]
enum OrderStatus {
    #[state(initial, on(pay -> Paid, cancel -> Cancelled))]
    Pending,
    #[state(on(ship -> Shipped, cancel -> Cancelled, refund -> Refunded))]
    Paid,
    #[state(on(deliver -> Delivered))]
    Shipped,
    #[state(terminal)]
    Delivered,
    #[state(terminal)]
    Cancelled,
    #[state(terminal)]
    Refunded,
}

use OrderStatus::{Cancelled, Delivered, Paid, Pending, Refunded, Shipped};
use OrderStatusAction::{Cancel, Deliver, Pay, Refund, Ship};

/// The declaration above, written out by hand: the reference the generated
/// tables are checked against.
const DECLARED: &[(OrderStatus, OrderStatusAction, OrderStatus)] = &[
    (Pending, Pay, Paid),
    (Pending, Cancel, Cancelled),
    (Paid, Ship, Shipped),
    (Paid, Cancel, Cancelled),
    (Paid, Refund, Refunded),
    (Shipped, Deliver, Delivered),
];

#[test]
fn constants_list_states_actions_and_initial_states() {
    assert_eq!(OrderStatus::RESOURCE, "order");
    assert_eq!(
        OrderStatus::STATES,
        &[Pending, Paid, Shipped, Delivered, Cancelled, Refunded]
    );
    assert_eq!(OrderStatus::INITIAL, &[Pending]);
    assert_eq!(
        OrderStatusAction::ALL,
        &[Pay, Cancel, Ship, Refund, Deliver]
    );
    for (i, state) in OrderStatus::STATES.iter().enumerate() {
        assert_eq!(state.index(), i);
    }
    for (i, action) in OrderStatusAction::ALL.iter().enumerate() {
        assert_eq!(action.index(), i);
    }
}

#[test]
fn every_pair_is_decided_as_declared() {
    for &from in OrderStatus::STATES {
        for &to in OrderStatus::STATES {
            let declared = DECLARED.iter().any(|&(f, _, t)| f == from && t == to);
            assert_eq!(from.can_transition_to(to), declared, "{from:?} -> {to:?}");
            assert_eq!(
                StateMachine::can_transition_to(from, to),
                declared,
                "{from:?} -> {to:?}"
            );
            assert_eq!(
                from.transition_to(to).is_ok(),
                declared,
                "{from:?} -> {to:?}"
            );
        }
        for &action in OrderStatusAction::ALL {
            let declared = DECLARED
                .iter()
                .find(|&&(f, a, _)| f == from && a == action)
                .map(|&(_, _, t)| t);
            assert_eq!(from.target(action), declared, "{from:?} {action:?}");
            assert_eq!(from.apply(action).ok(), declared, "{from:?} {action:?}");
        }
    }
}

#[test]
fn next_states_and_actions_follow_declaration_order() {
    assert_eq!(Pending.next_states(), &[Paid, Cancelled]);
    assert_eq!(Paid.next_states(), &[Shipped, Cancelled, Refunded]);
    assert_eq!(Paid.actions(), &[Ship, Cancel, Refund]);
    assert_eq!(Delivered.next_states(), &[] as &[OrderStatus]);
    assert_eq!(Delivered.actions(), &[] as &[OrderStatusAction]);
    assert!(Pending.is_initial() && !Paid.is_initial());
    assert!(Delivered.is_terminal() && Cancelled.is_terminal() && !Shipped.is_terminal());
}

#[test]
fn action_methods_apply_their_action() {
    assert_eq!(Pending.pay(), Ok(Paid));
    assert_eq!(Paid.ship(), Ok(Shipped));
    assert_eq!(Shipped.deliver(), Ok(Delivered));
    assert_eq!(Paid.refund(), Ok(Refunded));
    assert_eq!(Pending.cancel(), Ok(Cancelled));
    assert!(Shipped.cancel().is_err());
}

#[test]
fn refused_moves_say_what_is_allowed() {
    let by_action = Shipped.cancel().unwrap_err();
    assert_eq!(by_action.current(), Shipped);
    assert_eq!(by_action.action(), Some(Cancel));
    assert_eq!(by_action.requested_state(), Some(Cancelled));
    assert_eq!(by_action.allowed_next_states(), &[Delivered]);
    assert_eq!(by_action.allowed_actions(), &[Deliver]);
    assert_eq!(
        by_action.to_string(),
        "cannot cancel order: it is shipped; allowed: deliver"
    );

    let by_target = Shipped.transition_to(Paid).unwrap_err();
    assert_eq!(by_target.action(), None);
    assert_eq!(by_target.requested_state(), Some(Paid));
    assert_eq!(
        by_target.to_string(),
        "cannot move order to paid: it is shipped; allowed: delivered"
    );

    let terminal = Delivered.refund().unwrap_err();
    assert_eq!(
        terminal.to_string(),
        "cannot refund order: it is delivered, a terminal state"
    );
    assert_eq!(
        format!("{terminal:?}"),
        "TransitionError { current: Delivered, action: Some(Refund), requested_state: Some(Refunded), \
         allowed_next_states: [], allowed_actions: [] }"
    );
}

#[test]
fn action_targets_are_known_when_unique() {
    assert_eq!(Cancel.target(), Some(Cancelled));
    assert_eq!(Pay.target(), Some(Paid));
}

#[test]
fn state_names_are_serde_names() {
    for &state in OrderStatus::STATES {
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, format!("\"{}\"", state.name()));
        assert_eq!(OrderStatus::from_name(state.name()), Some(state));
        assert_eq!(OrderStatus::parse_name(state.name()), Ok(state));
    }
    assert_eq!(OrderStatus::from_name("Shipped"), None);
    let unknown = OrderStatus::parse_name("lost").unwrap_err();
    assert_eq!(unknown.kind(), NameKind::State);
    assert_eq!(
        unknown.to_string(),
        "unknown order state `lost`; expected one of: pending, paid, shipped, delivered, cancelled, refunded"
    );
}

#[test]
fn actions_speak_serde_in_both_directions() {
    for &action in OrderStatusAction::ALL {
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(json, format!("\"{}\"", action.name()));
        assert_eq!(
            serde_json::from_str::<OrderStatusAction>(&json).unwrap(),
            action
        );
        assert_eq!(action.to_string(), action.name());
        assert_eq!(action.name().parse::<OrderStatusAction>(), Ok(action));
    }
    assert_eq!(format!("[{Pay:>8}]"), "[     pay]");
    let error = serde_json::from_str::<OrderStatusAction>("\"teleport\"").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unknown variant `teleport`, expected one of `pay`, `cancel`"),
        "{error}"
    );
    let unknown = "Pay".parse::<OrderStatusAction>().unwrap_err();
    assert_eq!(unknown.kind(), NameKind::Action);
    assert_eq!(
        unknown.to_string(),
        "unknown order action `Pay`; expected one of: pay, cancel, ship, refund, deliver"
    );
    let long = "x".repeat(1000);
    assert_eq!(
        long.parse::<OrderStatusAction>()
            .unwrap_err()
            .given()
            .chars()
            .count(),
        65
    );
}

// The move check is usable in `const` items.
const _: () = assert!(Paid.can_transition_to(Refunded));
const _: () = assert!(!Shipped.can_transition_to(Cancelled));
const SHIPPED_AFTER_SHIP: Option<OrderStatus> = Paid.target(Ship);

#[test]
fn const_checks_agree_with_runtime_checks() {
    assert_eq!(SHIPPED_AFTER_SHIP, Some(Shipped));
}

#[test]
fn diagrams_show_every_state_and_move() {
    assert_eq!(
        OrderStatus::MERMAID,
        "stateDiagram-v2
    state \"pending\" as Pending
    state \"paid\" as Paid
    state \"shipped\" as Shipped
    state \"delivered\" as Delivered
    state \"cancelled\" as Cancelled
    state \"refunded\" as Refunded
    [*] --> Pending
    Pending --> Paid: pay
    Pending --> Cancelled: cancel
    Paid --> Shipped: ship
    Paid --> Cancelled: cancel
    Paid --> Refunded: refund
    Shipped --> Delivered: deliver
    Delivered --> [*]
    Cancelled --> [*]
    Refunded --> [*]
"
    );
    assert_eq!(
        OrderStatus::DOT,
        r#"digraph "order" {
    rankdir=LR;
    node [shape=box, style=rounded];
    __start [shape=point, label=""];
    "pending";
    "paid";
    "shipped";
    "delivered" [peripheries=2];
    "cancelled" [peripheries=2];
    "refunded" [peripheries=2];
    __start -> "pending";
    "pending" -> "paid" [label="pay"];
    "pending" -> "cancelled" [label="cancel"];
    "paid" -> "shipped" [label="ship"];
    "paid" -> "cancelled" [label="cancel"];
    "paid" -> "refunded" [label="refund"];
    "shipped" -> "delivered" [label="deliver"];
}
"#
    );
}

/// Several initial states, bare moves, a self-loop, renamed variants, raw
/// identifiers, a renamed action enum and the default resource name.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[state_machine(action = Step)]
enum DeploymentState {
    #[state(initial, on(start_rollout -> RollingOut, r#type -> Draft))]
    Draft,
    #[state(initial, on(start_rollout -> RollingOut))]
    #[serde(rename = "queued!")]
    Queued,
    #[state(on(complete -> Live), to(Draft))]
    RollingOut,
    #[state(to(RollingOut), on(retire -> Retired))]
    Live,
    #[state(terminal)]
    Retired,
    #[state(terminal, allow_unreachable)]
    LegacyArchived,
}

#[test]
fn the_less_common_declarations_work() {
    use DeploymentState::{Draft, LegacyArchived, Live, Queued, Retired, RollingOut};

    assert_eq!(DeploymentState::RESOURCE, "deployment");
    assert_eq!(DeploymentState::INITIAL, &[Draft, Queued]);
    assert_eq!(
        Step::ALL,
        &[Step::StartRollout, Step::Type, Step::Complete, Step::Retire]
    );
    assert_eq!(
        Step::NAMES,
        &["start-rollout", "type", "complete", "retire"]
    );
    assert_eq!(Draft.r#type(), Ok(Draft));
    assert_eq!(Queued.name(), "queued!");
    assert_eq!(serde_json::to_string(&Queued).unwrap(), "\"queued!\"");
    assert_eq!(LegacyArchived.name(), "legacy-archived");
    assert_eq!(
        serde_json::to_string(&LegacyArchived).unwrap(),
        "\"legacy-archived\""
    );
    assert_eq!(RollingOut.transition_to(Draft), Ok(Draft));
    assert_eq!(RollingOut.next_states(), &[Live, Draft]);
    assert_eq!(RollingOut.actions(), &[Step::Complete]);
    assert_eq!(Live.transition_to(RollingOut), Ok(RollingOut));
    assert_eq!(Live.retire(), Ok(Retired));
    assert_eq!(Step::StartRollout.target(), Some(RollingOut));
    assert_eq!(Step::Type.target(), Some(Draft));
    // A bare move has no action, so the refusal lists states.
    assert_eq!(
        Live.transition_to(Queued).unwrap_err().to_string(),
        "cannot move deployment to queued!: it is live; allowed: rolling-out, retired"
    );
}

/// A machine with bare moves only: its action enum has no variants.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Light {
    #[state(initial, to(Green))]
    Red,
    #[state(to(Yellow))]
    Green,
    #[state(to(Red))]
    Yellow,
}

#[test]
fn a_machine_without_actions_still_moves() {
    assert_eq!(Light::RESOURCE, "light");
    assert!(LightAction::ALL.is_empty());
    assert_eq!(Light::Red.transition_to(Light::Green), Ok(Light::Green));
    assert_eq!(
        Light::Red
            .transition_to(Light::Yellow)
            .unwrap_err()
            .to_string(),
        "cannot move light to Yellow: it is Red; allowed: Green"
    );
    assert!(serde_json::from_str::<LightAction>("\"go\"").is_err());
    assert!("go".parse::<LightAction>().is_err());
}
