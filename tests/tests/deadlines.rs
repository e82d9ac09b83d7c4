//! Deadlines on the derive: the constants of the machine, and every picture
//! and description of it, show the move a state makes by itself.

use std::time::Duration;

use conflict_runtime::StateMachine;
use conflict_runtime::deadline::duration_text;
use conflict_runtime::diagram;
use serde::{Deserialize, Serialize};

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Invoice {
    /// Unpaid for 30 minutes: expired, by a move declared in `after`.
    #[state(initial, on(pay -> Paid, cancel -> Cancelled), after(30min, expire -> Cancelled))]
    Open,
    /// Paid for 14 days: settled, by a move declared in `on`.
    #[state(on(refund -> Refunded, settle -> Settled), after(14 days, settle))]
    Paid,
    #[state(terminal)]
    Settled,
    #[state(terminal)]
    Cancelled,
    #[state(terminal)]
    Refunded,
}

#[test]
fn deadlines_are_constants_of_the_machine() {
    assert_eq!(Invoice::DEADLINES.len(), 2);
    let open = Invoice::Open.deadline().expect("open has a deadline");
    assert_eq!(open.state(), Invoice::Open);
    assert_eq!(open.action(), InvoiceAction::Expire);
    assert_eq!(open.target(), Some(Invoice::Cancelled));
    assert_eq!(open.after(), Duration::from_mins(30));
    assert_eq!(open.to_string(), "expire after 30m");

    let paid = Invoice::Paid.deadline().expect("paid has a deadline");
    assert_eq!(paid.action(), InvoiceAction::Settle);
    assert_eq!(paid.target(), Some(Invoice::Settled));
    assert_eq!(paid.after(), Duration::from_hours(14 * 24));
    assert_eq!(paid.to_string(), "settle after 14d");

    for state in [Invoice::Settled, Invoice::Cancelled, Invoice::Refunded] {
        assert_eq!(state.deadline(), None, "{state:?}");
    }
    // The deadline's move is an ordinary one: any caller may make it sooner.
    assert_eq!(Invoice::Open.expire(), Ok(Invoice::Cancelled));
    assert!(Invoice::Paid.apply(InvoiceAction::Expire).is_err());
}

#[test]
fn durations_print_in_their_largest_whole_unit() {
    for (seconds, text) in [
        (90, "90s"),
        (120, "2m"),
        (1800, "30m"),
        (7200, "2h"),
        (5400, "90m"),
        (86_400, "1d"),
        (90_000, "25h"),
    ] {
        assert_eq!(duration_text(Duration::from_secs(seconds)), text);
    }
}

#[test]
fn every_diagram_labels_the_deadline_move() {
    assert!(
        Invoice::MERMAID.contains("Open --> Cancelled: expire after 30m"),
        "{}",
        Invoice::MERMAID
    );
    assert!(
        Invoice::MERMAID.contains("Paid --> Settled: settle after 14d"),
        "{}",
        Invoice::MERMAID
    );
    // `cancel` leads to the same state without a deadline.
    assert!(Invoice::MERMAID.contains("Open --> Cancelled: cancel\n"));
    assert!(
        Invoice::DOT.contains(r#""open" -> "cancelled" [label="expire after 30m"]"#),
        "{}",
        Invoice::DOT
    );
    let text = diagram::text::<Invoice>();
    assert!(
        text.lines()
            .any(|line| line.contains("expire") && line.ends_with("after 30m")),
        "{text}"
    );
    let svg = diagram::svg::<Invoice>();
    assert!(svg.contains(">expire after 30m<"), "{svg}");
    assert!(svg.contains(">settle after 14d<"), "{svg}");
}

#[test]
fn the_description_gives_the_deadline_in_seconds() {
    let description = serde_json::to_value(diagram::describe::<Invoice>()).expect("json");
    let moves = description["transitions"].as_array().expect("transitions");
    let after = |action: &str| {
        moves
            .iter()
            .find(|m| m["action"] == action)
            .map(|m| m["after_seconds"].clone())
    };
    assert_eq!(after("expire"), Some(serde_json::json!(1800)));
    assert_eq!(after("settle"), Some(serde_json::json!(14 * 86_400)));
    assert_eq!(after("pay"), Some(serde_json::Value::Null), "absent");
}
