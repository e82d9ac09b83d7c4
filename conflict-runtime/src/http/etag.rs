//! Entity tags and the `If-Match` / `If-None-Match` grammar (RFC 9110 §8.8.3,
//! §13.1.1, §13.1.2).

use axum::http::header::{IF_MATCH, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::store::Expected;

/// The strong entity tag of a version: `"7"`. Clients treat it as opaque.
#[must_use]
pub fn etag(version: u64) -> HeaderValue {
    // digits and quotes only: always a valid header value
    HeaderValue::from_str(&etag_text(version)).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The entity tag of a version as text, quotes included.
pub(crate) fn etag_text(version: u64) -> String {
    format!("\"{version}\"")
}

/// A precondition header that does not follow the RFC 9110 grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {header} header: {reason}")]
pub struct MalformedHeader {
    header: &'static str,
    reason: &'static str,
}

/// Reads `If-Match`: `None` when absent. Strong comparison: a weak tag never
/// matches, and neither does a tag this crate did not issue.
///
/// # Errors
/// [`MalformedHeader`] when any `If-Match` line breaks the grammar.
pub fn if_match(headers: &HeaderMap) -> Result<Option<Expected>, MalformedHeader> {
    parse(headers, &IF_MATCH, "If-Match", false)
}

/// Reads `If-None-Match`: `None` when absent. Weak comparison: `W/"7"`
/// matches version 7.
///
/// # Errors
/// [`MalformedHeader`] when any `If-None-Match` line breaks the grammar.
pub fn if_none_match(headers: &HeaderMap) -> Result<Option<Expected>, MalformedHeader> {
    parse(headers, &IF_NONE_MATCH, "If-None-Match", true)
}

fn parse(
    headers: &HeaderMap,
    name: &HeaderName,
    header: &'static str,
    weak_matches: bool,
) -> Result<Option<Expected>, MalformedHeader> {
    let malformed = |reason| MalformedHeader { header, reason };
    let mut lines = headers.get_all(name).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let mut any = false;
    let mut versions = Vec::new();
    let mut tags = 0usize;
    for line in lines {
        let mut rest = line.as_bytes();
        loop {
            rest = trim_start(rest);
            match rest.first() {
                None => break,
                Some(b',') => {
                    rest = &rest[1..];
                    continue;
                }
                Some(b'*') => {
                    any = true;
                    rest = &rest[1..];
                }
                Some(_) => {
                    let (weak, opaque, after) = entity_tag(rest).ok_or(malformed(
                        "expected `*` or a list of entity tags such as \"7\" or W/\"7\"",
                    ))?;
                    tags += 1;
                    if (weak_matches || !weak)
                        && let Some(version) = our_version(opaque)
                    {
                        versions.push(version);
                    }
                    rest = after;
                }
            }
            rest = trim_start(rest);
            match rest.first() {
                None => break,
                Some(b',') => rest = &rest[1..],
                Some(_) => return Err(malformed("expected `,` between entity tags")),
            }
        }
    }
    match (any, tags) {
        (true, 0) => Ok(Some(Expected::Any)),
        (true, _) => Err(malformed("`*` cannot be combined with entity tags")),
        (false, 0) => Err(malformed("expected `*` or at least one entity tag")),
        (false, _) => Ok(Some(Expected::OneOf(versions))),
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &bytes[skip..]
}

/// `[W/] DQUOTE *etagc DQUOTE`: whether weak, the opaque part, the rest.
fn entity_tag(bytes: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (weak, bytes) = match bytes.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let bytes = bytes.strip_prefix(b"\"")?;
    let end = bytes.iter().position(|&b| b == b'"')?;
    let opaque = &bytes[..end];
    // etagc = %x21 / %x23-7E / obs-text
    if opaque
        .iter()
        .any(|&b| !(b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80))
    {
        return None;
    }
    Some((weak, opaque, &bytes[end + 1..]))
}

fn our_version(opaque: &[u8]) -> Option<u64> {
    // Only canonical decimals: `"07"` is not a tag this crate issued.
    let text = std::str::from_utf8(opaque).ok()?;
    let version: u64 = text.parse().ok()?;
    (version.to_string() == text).then_some(version)
}

#[cfg(test)]
mod tests {
    use axum::http::header::{IF_MATCH, IF_NONE_MATCH};
    use axum::http::{HeaderMap, HeaderValue};

    use super::{etag, if_match, if_none_match};
    use crate::store::Expected;

    fn headers(name: &axum::http::HeaderName, lines: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                name,
                HeaderValue::from_bytes(line).expect("valid header bytes"),
            );
        }
        headers
    }

    fn strong(lines: &[&[u8]]) -> Result<Option<Expected>, String> {
        if_match(&headers(&IF_MATCH, lines)).map_err(|e| e.to_string())
    }

    fn weak(lines: &[&[u8]]) -> Result<Option<Expected>, String> {
        if_none_match(&headers(&IF_NONE_MATCH, lines)).map_err(|e| e.to_string())
    }

    #[test]
    fn etags_are_quoted_versions() {
        assert_eq!(etag(7), "\"7\"");
        assert_eq!(etag(u64::MAX), format!("\"{}\"", u64::MAX).as_str());
    }

    #[test]
    fn absent_star_and_lists() {
        assert_eq!(strong(&[]), Ok(None));
        assert_eq!(strong(&[b"*"]), Ok(Some(Expected::Any)));
        assert_eq!(strong(&[b" * "]), Ok(Some(Expected::Any)));
        assert_eq!(strong(&[b"\"3\""]), Ok(Some(Expected::OneOf(vec![3]))));
        assert_eq!(
            strong(&[b"\"3\", \"5\""]),
            Ok(Some(Expected::OneOf(vec![3, 5])))
        );
        assert_eq!(
            strong(&[b"\"3\"", b"\"5\""]),
            Ok(Some(Expected::OneOf(vec![3, 5])))
        );
        // empty list elements are allowed by the #rule
        assert_eq!(
            strong(&[b", \"3\" ,, \"4\","]),
            Ok(Some(Expected::OneOf(vec![3, 4])))
        );
    }

    #[test]
    fn strong_comparison_ignores_weak_and_foreign_tags() {
        assert_eq!(strong(&[b"W/\"3\""]), Ok(Some(Expected::OneOf(vec![]))));
        assert_eq!(
            strong(&[b"\"abc\", \"07\", \"3\""]),
            Ok(Some(Expected::OneOf(vec![3])))
        );
        assert_eq!(
            strong(&[b"\"99999999999999999999999\""]),
            Ok(Some(Expected::OneOf(vec![])))
        );
        assert_eq!(strong(&[b"\"\""]), Ok(Some(Expected::OneOf(vec![]))));
    }

    #[test]
    fn weak_comparison_accepts_weak_tags() {
        assert_eq!(
            weak(&[b"W/\"3\", \"4\""]),
            Ok(Some(Expected::OneOf(vec![3, 4])))
        );
        assert_eq!(weak(&[b"*"]), Ok(Some(Expected::Any)));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            &b"3"[..],
            b"\"3",
            b"w/\"3\"",
            b"\"3\" \"4\"",
            b"\"a b\"",
            b"*, \"3\"",
            b"",
            b" , ",
            b"W/",
            b"\"3\"x",
        ] {
            let result = strong(&[bad]);
            assert!(
                result.is_err(),
                "{:?} parsed as {result:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            strong(&[b"3"]).unwrap_err(),
            "malformed If-Match header: expected `*` or a list of entity tags such as \"7\" or W/\"7\""
        );
        assert!(strong(&[b"*", b"\"3\""]).is_err());
    }
}
