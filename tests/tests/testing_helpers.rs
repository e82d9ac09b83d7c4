//! `conflict_runtime::testing` as a user of the crate would use it, on the
//! `orders` example: assertions over its machine, proptest strategies over
//! its paths and refusals, and the conformance check over its router (and
//! over a broken one, which it must catch).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use conflict_examples::orders::{
    EXPIRE, MemoryOrders, Options, Order, OrderStatus, OrderStatusAction, REFUND, router_with,
};
use conflict_runtime::http::MemoryKeys;
use conflict_runtime::store::{Change, Create, Move, Store, StoreError};
use conflict_runtime::testing::{Conformance, illegal_moves, illegal_pairs, legal_paths};
use conflict_runtime::{StateMachine, assert_moves, assert_refuses};
use proptest::prelude::*;
use serde_json::json;

#[test]
fn the_order_machine_reads_as_declared() {
    assert_moves!(OrderStatus::Pending, pay => Paid);
    assert_moves!(OrderStatus::Pending, expire => OrderStatus::Cancelled);
    assert_moves!(OrderStatus::Paid, ship => Shipped);
    assert_moves!(OrderStatus::Shipped, deliver => Delivered);
    assert_refuses!(OrderStatus::Shipped, cancel, allowed: [deliver]);
    assert_refuses!(OrderStatus::Pending, ship, allowed: [pay, cancel, expire]);
    assert_refuses!(OrderStatus::Delivered, refund, allowed: []);
}

#[test]
#[should_panic(expected = "`Shipped` refuses `cancel`, but allows [deliver], not [refund]")]
fn a_wrong_allowed_list_names_both() {
    assert_refuses!(OrderStatus::Shipped, cancel, allowed: [refund]);
}

#[test]
#[should_panic(expected = "`Paid` --cancel--> `Cancelled`, not `Refunded`")]
fn a_wrong_target_names_where_the_move_leads() {
    assert_moves!(OrderStatus::Paid, cancel => Refunded);
}

#[test]
#[should_panic(expected = "`Shipped` refuses `cancel`")]
fn a_refused_move_names_why() {
    assert_moves!(OrderStatus::Shipped, cancel => Cancelled);
}

fn order(status: OrderStatus) -> Order {
    Order {
        id: 0,
        status,
        item: "lamp".to_owned(),
        quantity: 1,
        tracking_number: None,
        payment: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    /// Every legal path commits, step by step, on the example's store.
    #[test]
    fn legal_paths_commit_on_the_store(path in legal_paths::<OrderStatus>(6)) {
        prop_assert!(path.start.is_initial());
        runtime().block_on(async {
            let orders = MemoryOrders::new();
            let id = *Create::create(&orders, order(path.start)).await.unwrap().id();
            for step in &path.steps {
                let requested = match step.action {
                    Some(action) => Move::Action(action),
                    None => Move::To(step.to),
                };
                let moved = orders.apply(&id, Change::new(requested)).await.unwrap();
                assert_eq!(moved.value().status, step.to);
            }
            assert_eq!(orders.get(&id).await.unwrap().value().status, path.end());
        });
    }

    /// Every pair the machine refuses is refused by the store, naming the state.
    #[test]
    fn illegal_moves_are_refused_by_the_store((state, action) in illegal_moves::<OrderStatus>()) {
        prop_assert!(state.target(action).is_none());
        runtime().block_on(async {
            let orders = MemoryOrders::new();
            let id = *Create::create(&orders, order(state)).await.unwrap().id();
            match orders.apply(&id, Change::new(Move::Action(action))).await {
                Err(StoreError::Transition(refused)) => assert_eq!(refused.current(), state),
                other => panic!("({state:?}, {action:?}): {other:?}"),
            }
        });
    }
}

#[test]
fn the_order_machine_refuses_what_it_does_not_declare() {
    // Six states, six actions; pending allows three, paid three, shipped one.
    assert_eq!(illegal_pairs::<OrderStatus>().len(), 6 * 6 - 7);
}

/// The conformance check of the example's router, in memory, with
/// `place` making an order in any state in the store the router serves.
fn conformance(orders: &MemoryOrders, router: axum::Router) -> Conformance<OrderStatus> {
    let store = orders.clone();
    Conformance::new(router, move |status| {
        let store = store.clone();
        async move {
            let created = Create::create(&store, order(status)).await.unwrap();
            format!("/orders/{}", created.id())
        }
    })
    .input(|action| match action {
        OrderStatusAction::Ship => json!({"tracking_number": "1Z999AA1"}),
        OrderStatusAction::Pay => json!({"method": "card"}),
        _ => json!({}),
    })
    .header(
        HeaderName::from_static("x-permissions"),
        HeaderValue::from_str(&format!("{REFUND},{EXPIRE}")).unwrap(),
    )
}

#[tokio::test]
async fn the_example_router_conforms() {
    let orders = MemoryOrders::new();
    let router = router_with(orders.clone(), MemoryKeys::default(), Options::default());
    let checked = conformance(&orders, router).check().await.unwrap();
    assert_eq!(checked, 6 * 6);
}

#[tokio::test]
async fn a_router_that_answers_400_for_an_illegal_cancel_fails_the_check() {
    let orders = MemoryOrders::new();
    // Broken on purpose: a refused `cancel` answers 400, not 409.
    let broken = router_with(orders.clone(), MemoryKeys::default(), Options::default()).layer(
        axum::middleware::from_fn(
            |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let cancel = request.uri().path().ends_with("/cancel");
                let mut response = next.run(request).await;
                if cancel && response.status() == StatusCode::CONFLICT {
                    *response.status_mut() = StatusCode::BAD_REQUEST;
                }
                response
            },
        ),
    );
    let failures = conformance(&orders, broken).check().await.unwrap_err();
    let text = failures.to_string();
    // `cancel` is refused from shipped, delivered, cancelled and refunded.
    assert_eq!(failures.0.len(), 4, "{text}");
    assert!(
        text.contains(
            "(shipped, cancel): the declaration refuses it, but it answered 400 Bad Request, not 409 illegal-transition"
        ),
        "{text}"
    );
}
