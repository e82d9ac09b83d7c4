//! Guards and permissions that see who asks and with what input: "only the
//! customer who placed the order may cancel it, and only with a reason
//! longer than ten characters", through the engine, as any caller makes
//! moves.

use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;
use conflict_runtime::moves::{
    Anonymous, Asked, Caller, Engine, Input, MoveError, MoveErrorKind, MoveSpec, Rules,
};
use conflict_runtime::store::{Create, MemoryStore, Resource};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TicketStatus {
    #[state(initial, on(cancel -> Cancelled, escalate -> Escalated))]
    Open,
    #[state(terminal)]
    Escalated,
    #[state(terminal)]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Ticket {
    owner: String,
    status: TicketStatus,
}

impl Resource for Ticket {
    type State = TicketStatus;

    fn state(&self) -> TicketStatus {
        self.status
    }

    fn set_state(&mut self, status: TicketStatus) {
        self.status = status;
    }
}

impl<Id> conflict_runtime::store::Keyed<Id> for Ticket {
    fn set_id(&mut self, _: &Id) {}
}

/// The input of `cancel`.
#[derive(Deserialize)]
struct Cancellation {
    reason: String,
}

struct User(&'static str);

impl Caller for User {
    fn actor(&self) -> Option<&str> {
        Some(self.0)
    }

    fn has_permission(&self, _: &str) -> bool {
        true
    }
}

fn rules() -> Rules<Ticket> {
    Rules::new()
        .permission_with(TicketStatusAction::Cancel, |ticket: &Ticket, caller| {
            caller.actor() == Some(ticket.owner.as_str())
        })
        .guard_with(TicketStatusAction::Cancel, |_: &Ticket, asking| {
            let reason = asking
                .input_as::<Cancellation>()
                .map(|input| input.reason)
                .unwrap_or_default();
            if reason.chars().count() <= 10 {
                return Err(Blocker::new(
                    "reason_too_short",
                    format!(
                        "{} must give a reason longer than 10 characters",
                        asking.caller().actor().unwrap_or("the caller")
                    ),
                ));
            }
            Ok(())
        })
        .guard_with_async(
            TicketStatusAction::Escalate,
            |ticket: Ticket, asked: Asked| async move {
                // An async check of who asks (a directory lookup, say).
                tokio::task::yield_now().await;
                if asked.actor.as_deref() == Some(ticket.owner.as_str()) {
                    return Err(Blocker::new(
                        "own_ticket",
                        "a ticket is escalated by someone other than its owner",
                    ));
                }
                Ok(())
            },
        )
}

async fn ticket(store: &MemoryStore<Ticket, i64>) -> i64 {
    *Create::create(
        store,
        Ticket {
            owner: "ada".to_owned(),
            status: TicketStatus::Open,
        },
    )
    .await
    .unwrap()
    .id()
}

fn cancel(id: i64, reason: &str) -> MoveSpec<TicketStatus, i64> {
    MoveSpec::action(id, TicketStatusAction::Cancel)
        .with_input(Input::Value(json!({"reason": reason})))
}

#[tokio::test]
async fn only_the_owner_cancels_and_only_with_a_reason() {
    let store = MemoryStore::<Ticket, i64>::new();
    let engine = Engine::new(store.clone(), rules());
    let id = ticket(&store).await;

    // Someone else: 403, naming the action, whatever the reason.
    let refused = engine
        .perform(&User("bob"), cancel(id, "a reason long enough"))
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        MoveError::Forbidden {
            action: TicketStatusAction::Cancel
        }
    ));
    let refused = engine
        .perform(&Anonymous, cancel(id, "a reason long enough"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), MoveErrorKind::Forbidden);

    // The owner with a short reason: blocked, saying why and by whom.
    let blocked = engine
        .perform(&User("ada"), cancel(id, "too short"))
        .await
        .unwrap_err();
    let MoveError::Blocked { blockers, .. } = blocked else {
        panic!("{blocked:?}");
    };
    assert_eq!(blockers.len(), 1);
    assert_eq!(blockers[0].code(), "reason_too_short");
    assert!(blockers[0].message().starts_with("ada must give a reason"));

    // The owner with a reason: moved.
    let moved = engine
        .perform(&User("ada"), cancel(id, "ordered the wrong size"))
        .await
        .unwrap();
    assert_eq!(moved.resource().value().status, TicketStatus::Cancelled);
}

#[tokio::test]
async fn what_a_caller_may_do_depends_on_the_resource() {
    let store = MemoryStore::<Ticket, i64>::new();
    let engine = Engine::new(store.clone(), rules());
    let id = ticket(&store).await;
    let ticket = store_ticket(&store, id).await;
    let actions = |options: Vec<conflict_runtime::moves::MoveOption<TicketStatus>>| {
        options
            .into_iter()
            .map(|option| (option.action, option.verdict.is_allowed()))
            .collect::<Vec<_>>()
    };
    // The owner may ask to cancel (its guard needs the input, which a
    // listing has not: blocked there), not escalate their own ticket.
    assert_eq!(
        actions(engine.options(&ticket, &User("ada")).await),
        [
            (Some(TicketStatusAction::Cancel), false),
            (Some(TicketStatusAction::Escalate), false)
        ]
    );
    // Someone else may not cancel it, and may escalate it.
    assert_eq!(
        actions(engine.options(&ticket, &User("bob")).await),
        [(Some(TicketStatusAction::Escalate), true)]
    );
    let escalate = || MoveSpec::action(id, TicketStatusAction::Escalate);
    let blocked = engine.perform(&User("ada"), escalate()).await.unwrap_err();
    assert_eq!(blocked.kind(), MoveErrorKind::Blocked);
    let moved = engine.perform(&User("bob"), escalate()).await.unwrap();
    assert_eq!(moved.resource().value().status, TicketStatus::Escalated);
}

/// Bulk moves check the permission of each resource.
#[tokio::test]
async fn a_bulk_move_checks_each_resource() {
    let store = MemoryStore::<Ticket, i64>::new();
    let engine = Engine::new(store.clone(), rules());
    let ada = ticket(&store).await;
    let bob = *Create::create(
        &store,
        Ticket {
            owner: "bob".to_owned(),
            status: TicketStatus::Open,
        },
    )
    .await
    .unwrap()
    .id();
    let results = engine
        .perform_each(
            &User("ada"),
            TicketStatusAction::Cancel,
            vec![ada, bob],
            Input::Value(json!({"reason": "the customer called to cancel"})),
        )
        .await
        .unwrap();
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    assert_eq!(
        results[1].1.as_ref().map_err(MoveError::kind).err(),
        Some(MoveErrorKind::Forbidden)
    );
}

async fn store_ticket(store: &MemoryStore<Ticket, i64>, id: i64) -> Ticket {
    conflict_runtime::store::Store::get(store, &id)
        .await
        .unwrap()
        .into_value()
}
