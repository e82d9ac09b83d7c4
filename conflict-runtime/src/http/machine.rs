//! `GET /state-machines/{resource}`: the machine as JSON, SVG, Mermaid,
//! Graphviz DOT or text, by `?format=` or by `Accept`.

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};

use super::problem::{self, Problem};
use crate::diagram;
use crate::machine::StateMachine;

/// A representation of a machine, with its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Svg,
    Mermaid,
    Dot,
    Text,
}

const FORMATS: [(Format, &str, &str); 5] = [
    (Format::Json, "json", "application/json"),
    (Format::Svg, "svg", "image/svg+xml"),
    (Format::Mermaid, "mermaid", "text/vnd.mermaid"),
    (Format::Dot, "dot", "text/vnd.graphviz"),
    (Format::Text, "text", "text/plain"),
];

fn names() -> String {
    FORMATS
        .iter()
        .map(|(_, name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The format a request asks for: `?format=` wins over `Accept`.
fn negotiate(uri: &Uri, headers: &HeaderMap) -> Result<Format, Problem> {
    let asked = uri
        .query()
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("format="));
    if let Some(asked) = asked {
        return FORMATS
            .iter()
            .find(|(_, name, _)| *name == asked)
            .map(|(f, ..)| *f)
            .ok_or_else(|| {
                problem::malformed(format!("unknown format; use one of: {}", names()))
                    .with_instance(uri.path())
            });
    }
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Format::Json);
    };
    // A browser asks for HTML first: it gets the picture.
    if accept
        .split(',')
        .any(|range| range.trim().starts_with("text/html"))
    {
        return Ok(Format::Svg);
    }
    let mut best: Option<(f32, usize)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        let matched = FORMATS.iter().position(|(_, _, media_type)| {
            media == *media_type
                || media == "*/*"
                || media
                    .strip_suffix("/*")
                    .is_some_and(|kind| media_type.starts_with(&format!("{kind}/")))
        });
        if let Some(index) = matched
            && best.is_none_or(|(q, _)| quality > q)
        {
            best = Some((quality, index));
        }
    }
    best.map(|(_, index)| FORMATS[index].0).ok_or_else(|| {
        problem::not_acceptable(format!(
            "no representation matches Accept; this resource is served as {}",
            names()
        ))
        .with_instance(uri.path())
    })
}

/// Serves machine `S`: mount it as `.route("/state-machines/order",
/// get(machine::<OrderStatus>))`. JSON (states, actions, moves) by default;
/// `?format=svg|mermaid|dot|text|json` or `Accept` choose another.
///
/// # Errors
/// 400 for an unknown `format`, 406 when nothing matches `Accept`.
#[allow(clippy::unused_async, reason = "axum handlers are async fns")]
pub async fn machine<S: StateMachine>(uri: Uri, headers: HeaderMap) -> Result<Response, Problem> {
    let format = negotiate(&uri, &headers)?;
    let (body, media) = match format {
        Format::Json => return Ok(axum::Json(diagram::describe::<S>()).into_response()),
        Format::Svg => (diagram::svg::<S>(), "image/svg+xml"),
        Format::Mermaid => (S::MERMAID.to_owned(), "text/vnd.mermaid; charset=utf-8"),
        Format::Dot => (S::DOT.to_owned(), "text/vnd.graphviz; charset=utf-8"),
        Format::Text => (diagram::text::<S>(), "text/plain; charset=utf-8"),
    };
    Ok(([(CONTENT_TYPE, HeaderValue::from_static(media))], body).into_response())
}
