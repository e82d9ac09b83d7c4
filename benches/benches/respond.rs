//! Part 2: the 409 path (building and serializing the problem body) against
//! the 200 path (serializing the order with its `ETag`) of the same request.
#![allow(missing_docs, reason = "bench harness")]

use std::hint::black_box;

use axum::response::IntoResponse;
use conflict_benches::{OrderStatus, OrderStatusAction};
use conflict_examples::orders::Order;
use conflict_runtime::StateMachine;
use conflict_runtime::http::Problem;
use conflict_runtime::store::Versioned;
use criterion::{Criterion, criterion_group, criterion_main};

fn respond(c: &mut Criterion) {
    let order = Order {
        id: 42,
        status: OrderStatus::Shipped,
        item: "lamp".to_owned(),
        quantity: 1,
        tracking_number: Some("1Z999".to_owned()),
        payment: None,
    };
    let mut group = c.benchmark_group("respond");
    group.bench_function("200 order", |b| {
        b.iter(|| Versioned::new(42_i64, 3, black_box(order.clone())).into_response());
    });
    group.bench_function("409 problem", |b| {
        b.iter(|| {
            let refused = black_box(OrderStatus::Shipped)
                .apply(black_box(OrderStatusAction::Cancel))
                .unwrap_err();
            Problem::from(refused)
                .with_instance("/orders/42/cancel")
                .into_response()
        });
    });
    group.finish();
}

criterion_group!(benches, respond);
criterion_main!(benches);
