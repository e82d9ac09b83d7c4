//! What a caller may do with a resource now, as hypermedia in its
//! representation: an `actions` member (after Siren's) and a `Link` header
//! per action, from the same list as the allowed lists of a 409.

use axum::http::HeaderValue;
use serde::Serialize;

use crate::machine::{Action, StateMachine};
use crate::moves::{Caller, Rules};
use crate::store::Resource;

/// The relation type of an action's `Link`.
pub const ACTION_REL: &str = "urn:conflict:rel:action";

/// One move a caller may make now, as a client draws its button:
/// `{"name": "ship", "method": "POST", "href": "/orders/7/ship", "to":
/// "shipped", "input": "#/components/schemas/Shipment"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Affordance {
    /// The action's wire name.
    pub name: &'static str,
    /// Always `POST`.
    pub method: &'static str,
    /// Where to send it: the resource's path and the action.
    pub href: String,
    /// The state it leads to.
    pub to: &'static str,
    /// A reference to the schema of its input in the service's OpenAPI
    /// document, when it takes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// The moves `caller` may make on `resource` (at `path`, `/orders/7`) now,
/// after guards and permissions, in declaration order: those a 409 would
/// list as allowed. An action with input refers to
/// `#/components/schemas/{name}`, its input type's name.
pub async fn affordances<R: Resource>(
    resource: &R,
    rules: &Rules<R>,
    caller: &dyn Caller,
    path: &str,
) -> Vec<Affordance> {
    let path = path.trim_end_matches('/');
    rules
        .options(resource, caller)
        .await
        .into_iter()
        .filter(|option| option.verdict.is_allowed())
        .filter_map(|option| {
            let action = option.action?;
            Some(Affordance {
                name: action.name(),
                method: "POST",
                href: format!("{path}/{}", action.name()),
                to: option.to.name(),
                input: rules
                    .input_name(action)
                    .map(|name| format!("#/components/schemas/{name}")),
            })
        })
        .collect()
}

/// One `Link` header value per affordance:
/// `</orders/7/ship>; rel="urn:conflict:rel:action"; title="ship"`.
#[must_use]
pub fn action_links(affordances: &[Affordance]) -> Vec<HeaderValue> {
    affordances
        .iter()
        .filter_map(|affordance| {
            HeaderValue::from_str(&format!(
                "<{}>; rel=\"{ACTION_REL}\"; title=\"{}\"",
                affordance.href, affordance.name
            ))
            .ok()
        })
        .collect()
}
