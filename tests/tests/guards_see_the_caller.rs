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

/// The same rules declared on the derive: a guard that takes `&Asking`
/// sees who asks and the input, one declared `if async` is awaited with
/// `Asked`, and both are checked by the engine as the runtime's are.
mod declared {
    use super::{Cancellation, User};
    use conflict_runtime::StateMachine;
    use conflict_runtime::guard::Blocker;
    use conflict_runtime::moves::{
        Anonymous, Asked, Asking, Engine, Input, MoveError, MoveErrorKind, MoveSpec, Rules,
    };
    use conflict_runtime::store::{Create, MemoryStore, Resource};
    use serde_json::json;

    #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
    enum CaseStatus {
        #[state(initial, on(cancel -> Cancelled if long_reason, escalate -> Escalated if async not_by_owner))]
        Open,
        #[state(terminal)]
        Escalated,
        #[state(terminal)]
        Cancelled,
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Case {
        owner: &'static str,
        status: CaseStatus,
    }

    impl Resource for Case {
        type State = CaseStatus;

        fn state(&self) -> CaseStatus {
            self.status
        }

        fn set_state(&mut self, status: CaseStatus) {
            self.status = status;
        }
    }

    impl<Id> conflict_runtime::store::Keyed<Id> for Case {
        fn set_id(&mut self, _: &Id) {}
    }

    fn long_reason(case: &Case, asking: &Asking<'_>) -> Result<(), Blocker> {
        let reason = asking
            .input_as::<Cancellation>()
            .map(|input| input.reason)
            .unwrap_or_default();
        if reason.chars().count() <= 10 {
            let who = asking.caller().actor().unwrap_or("the caller");
            return Err(Blocker::new(
                "reason_too_short",
                format!("{who} must give a reason longer than 10 characters"),
            )
            .with("owner", case.owner));
        }
        Ok(())
    }

    async fn not_by_owner(case: Case, asked: Asked) -> Result<(), Blocker> {
        tokio::task::yield_now().await;
        match asked.actor.as_deref() {
            None => Err(Blocker::new("anonymous", "say who escalates")),
            Some(actor) if actor == case.owner => {
                Err(Blocker::new("own_case", "escalated by someone else"))
            }
            Some(_) => Ok(()),
        }
    }

    #[test]
    fn the_derive_knows_which_guards_ask() {
        let asks: Vec<(&str, bool)> = <CaseStatus as StateMachine>::GUARDS
            .iter()
            .map(|guard| (guard.name(), guard.asks()))
            .collect();
        assert_eq!(asks, [("long_reason", true), ("not_by_owner", true)]);
    }

    #[tokio::test]
    async fn declared_guards_see_the_caller_and_the_input() {
        let store = MemoryStore::<Case, i64>::new();
        // No runtime rules: the declaration is the whole policy.
        let engine = Engine::new(store.clone(), Rules::new());
        let mut ids = Vec::new();
        for _ in 0..2 {
            let created = Create::create(
                &store,
                Case {
                    owner: "ada",
                    status: CaseStatus::Open,
                },
            )
            .await
            .unwrap();
            ids.push(*created.id());
        }
        let cancel = |id: i64, reason: &str| {
            MoveSpec::action(id, CaseStatusAction::Cancel)
                .with_input(Input::Value(json!({"reason": reason})))
        };

        // An input no action type reads still reaches the guard that asks.
        let blocked = engine
            .perform(&User("ada"), cancel(ids[0], "too short"))
            .await
            .unwrap_err();
        let MoveError::Blocked { blockers, .. } = blocked else {
            panic!("{blocked:?}");
        };
        assert_eq!(blockers[0].code(), "reason_too_short");
        assert!(blockers[0].message().starts_with("ada must give"));
        assert_eq!(blockers[0].parameters()["owner"], "ada");
        let moved = engine
            .perform(&User("ada"), cancel(ids[0], "ordered the wrong size"))
            .await
            .unwrap();
        assert_eq!(moved.resource().value().status, CaseStatus::Cancelled);

        // The async guard: the owner and an anonymous caller are refused
        // by who they are, someone else moves it.
        let escalate = || MoveSpec::action(ids[1], CaseStatusAction::Escalate);
        for caller in [
            &User("ada") as &dyn conflict_runtime::moves::Caller,
            &Anonymous,
        ] {
            let refused = engine.perform(caller, escalate()).await.unwrap_err();
            assert_eq!(refused.kind(), MoveErrorKind::Blocked);
        }
        let moved = engine.perform(&User("bob"), escalate()).await.unwrap();
        assert_eq!(moved.resource().value().status, CaseStatus::Escalated);
    }
}
