//! Pictures of the `orders` machine: the SVG the crate lays out, the text
//! listing, the JSON description, and the route that serves them.

#[macro_use]
mod support;

use conflict_examples::orders::{Options, OrderStatus};
use conflict_runtime::diagram;
use support::Backend;

const COMMITTED_SVG: &str = "../docs/orders.svg";

#[test]
fn the_svg_is_well_formed_and_shows_every_state_and_action() {
    let svg = diagram::svg::<OrderStatus>();
    let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let texts: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for name in [
        "pending",
        "paid",
        "shipped",
        "delivered",
        "cancelled",
        "refunded",
    ] {
        assert!(texts.contains(&name), "state {name} in {texts:?}");
    }
    // A guarded move shows its guard.
    for action in [
        "pay [credit_limit]",
        "expire after 30m",
        "ship",
        "deliver",
        "refund",
    ] {
        assert!(texts.contains(&action), "action {action} in {texts:?}");
    }
    // `cancel` labels both of its moves.
    assert_eq!(texts.iter().filter(|t| **t == "cancel").count(), 2);
    let paths = document
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("marker-end").is_some())
        .count();
    assert_eq!(paths, 7 + 1, "seven moves and the initial arrow");
    // one dot feeds the initial state; three terminal states have an inner border
    assert_eq!(
        document
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count(),
        1
    );
    let unfilled = document
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("none"))
        .count();
    assert_eq!(unfilled, 3);
}

#[test]
fn the_committed_svg_is_current() {
    let svg = diagram::svg::<OrderStatus>();
    if std::env::var_os("CONFLICT_UPDATE_DOCS").is_some() {
        std::fs::write(COMMITTED_SVG, &svg).expect("write docs/orders.svg");
    }
    let committed = std::fs::read_to_string(COMMITTED_SVG).unwrap_or_default();
    assert!(
        committed == svg,
        "docs/orders.svg is stale: regenerate it with `CONFLICT_UPDATE_DOCS=1 cargo test -p conflict-tests --test diagrams`"
    );
}

#[test]
fn the_text_listing_reads_without_a_browser() {
    assert_eq!(
        diagram::text::<OrderStatus>(),
        "order
  pending  (initial)
    pay      -> paid  if credit_limit
    cancel   -> cancelled
    expire   -> cancelled  after 30m
  paid
    ship     -> shipped
    cancel   -> cancelled
    refund   -> refunded
  shipped
    deliver  -> delivered
  delivered  (terminal)
  cancelled  (terminal)
  refunded  (terminal)
"
    );
}

async fn the_machine_is_served_in_every_format(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let get = |query: &str, accept: Option<&str>| {
        let mut request = server
            .client
            .get(server.url(&format!("/state-machines/order{query}")));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    let json: serde_json::Value = get("", None).await.unwrap().json().await.unwrap();
    assert_eq!(json["resource"], "order");
    assert_eq!(
        json["states"][0],
        serde_json::json!({"name": "pending", "initial": true, "terminal": false})
    );
    assert_eq!(json["transitions"].as_array().unwrap().len(), 7);
    assert_eq!(
        json["transitions"][2],
        serde_json::json!({"from": "pending", "to": "cancelled", "action": "expire", "after_seconds": 1800})
    );
    assert_eq!(
        json["actions"],
        serde_json::json!(["pay", "cancel", "expire", "ship", "refund", "deliver"])
    );

    for (query, accept, media, starts) in [
        ("?format=svg", None, "image/svg+xml", "<svg"),
        (
            "?format=mermaid",
            None,
            "text/vnd.mermaid; charset=utf-8",
            "stateDiagram-v2",
        ),
        (
            "?format=dot",
            None,
            "text/vnd.graphviz; charset=utf-8",
            "digraph \"order\"",
        ),
        ("?format=text", None, "text/plain; charset=utf-8", "order\n"),
        ("", Some("image/svg+xml"), "image/svg+xml", "<svg"),
        (
            "",
            Some("text/vnd.graphviz;q=0.9, text/plain;q=0.5"),
            "text/vnd.graphviz; charset=utf-8",
            "digraph",
        ),
        (
            "",
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            "image/svg+xml",
            "<svg",
        ),
        (
            "?format=dot",
            Some("image/svg+xml"),
            "text/vnd.graphviz; charset=utf-8",
            "digraph",
        ),
    ] {
        let response = get(query, accept).await.unwrap();
        assert_eq!(response.status(), 200, "{query} {accept:?}");
        assert_eq!(
            response.headers()["content-type"],
            media,
            "{query} {accept:?}"
        );
        assert!(
            response.text().await.unwrap().starts_with(starts),
            "{query} {accept:?}"
        );
    }
    let unknown = get("?format=png", None).await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
    let refused = get("", Some("application/xml")).await.unwrap();
    assert_eq!(refused.status(), 406);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
}

on_every_backend!(the_machine_is_served_in_every_format);
