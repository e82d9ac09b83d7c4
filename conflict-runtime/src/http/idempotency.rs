//! `Idempotency-Key` (IETF httpapi draft): a retried request replays the
//! first answer instead of being applied again.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::problem::{self, Problem};

/// The request header naming an idempotent request.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set to `true` on a response replayed for a retried key.
pub const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// A key as seen by a store: the client's key within the client's scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopedKey {
    /// Who sent it, when the application names clients; empty otherwise.
    pub scope: String,
    /// The `Idempotency-Key` value.
    pub key: String,
}

/// A digest of what a request asks for (method, path, content type and
/// body): the same key with another fingerprint is a different request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// A response kept for replay.
#[derive(Clone, Debug)]
pub struct StoredResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// What a store says when a keyed request arrives.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Begin {
    /// The key is new (or expired): handle the request; the key is now held.
    Proceed,
    /// The same request completed before: answer with this.
    Replay(StoredResponse),
    /// The same request is being handled right now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
    /// The store could not be asked; the request is refused with a 500
    /// rather than risk handling it twice.
    Unavailable,
}

/// The keyed request a handler is answering, when the [`Idempotency`]
/// layer let it through with an `Idempotency-Key` (an `Option` extractor:
/// `None` without a key). A handler whose key store is in the move's
/// database keeps the answer in the move's own transaction
/// ([`PgKeys::keep_in`](super::PgKeys::keep_in)), so that no crash can
/// leave a committed move without its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedRequest {
    /// The key.
    pub key: ScopedKey,
    /// What the request asks for.
    pub fingerprint: Fingerprint,
}

impl<St: Send + Sync> axum::extract::OptionalFromRequestParts<St> for KeyedRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Option<Self>, Infallible> {
        Ok(parts.extensions.get::<KeyedRequest>().cloned())
    }
}

/// On a response whose answer the handler kept itself: the layer sends it
/// on without keeping it again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnswerKept;

/// Why a key store could not record an answer or let a key go.
pub type KeyStoreError = Box<dyn std::error::Error + Send + Sync>;

/// Where idempotency keys and their responses live.
pub trait IdempotencyStore: Clone + Send + Sync + 'static {
    /// Claims `key` for a request with `fingerprint`, or says why not.
    fn begin(
        &self,
        key: &ScopedKey,
        fingerprint: Fingerprint,
    ) -> impl Future<Output = Begin> + Send;

    /// Records the answer to the request that claimed `key`.
    ///
    /// # Errors
    /// The store's failure: the layer tries again, then reports it.
    fn complete(
        &self,
        key: &ScopedKey,
        fingerprint: Fingerprint,
        response: StoredResponse,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send;

    /// Lets `key` go without an answer (the request failed on the server's
    /// side), so that a retry is handled afresh.
    ///
    /// # Errors
    /// The store's failure: the layer tries again, then logs it (the key's
    /// lease lets it go in the end).
    fn release(&self, key: &ScopedKey) -> impl Future<Output = Result<(), KeyStoreError>> + Send;
}

/// The embedded key store: bounded, with expiring entries.
///
/// A key is kept for its time to live from when it was claimed; past the
/// capacity, the oldest kept answers go first. A key whose request is still
/// running is never evicted, by age or by count (its lease bounds how long
/// it can hold the key unanswered), so the store may hold up to the number
/// of requests running beyond its capacity.
#[derive(Clone)]
pub struct MemoryKeys {
    inner: Arc<Mutex<Keys>>,
    ttl: Duration,
    lease: Duration,
    capacity: usize,
}

struct Keys {
    entries: HashMap<ScopedKey, Entry>,
    // Claim order: with one time to live for all, the oldest expire first.
    order: VecDeque<(ScopedKey, Instant)>,
}

struct Entry {
    fingerprint: Fingerprint,
    claimed: Instant,
    response: Option<StoredResponse>,
}

impl Entry {
    /// Whether a request still holds the key: unanswered, within its lease.
    fn running(&self, now: Instant, lease: Duration) -> bool {
        self.response.is_none() && now.duration_since(self.claimed) <= lease
    }
}

impl Default for MemoryKeys {
    /// Keys kept 24 hours, at most 10 000 answers; a request holds its key
    /// at most 60 seconds before a retry may take it over.
    fn default() -> Self {
        MemoryKeys::new(Duration::from_hours(24), 10_000)
    }
}

impl MemoryKeys {
    /// Keys kept for `ttl`, at most `capacity` of them beside the requests
    /// still running.
    #[must_use]
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        MemoryKeys {
            inner: Arc::new(Mutex::new(Keys {
                entries: HashMap::new(),
                order: VecDeque::new(),
            })),
            ttl,
            lease: Duration::from_mins(1),
            capacity: capacity.max(1),
        }
    }

    /// How long an unanswered request holds its key: a request whose
    /// handler died does not block retries for longer.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn begin_now(&self, key: &ScopedKey, fingerprint: Fingerprint) -> Begin {
        let now = Instant::now();
        let mut keys = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        keys.expire(now, self.ttl, self.lease);
        if let Some(entry) = keys.entries.get(key) {
            let abandoned = entry.response.is_none() && !entry.running(now, self.lease);
            if !abandoned {
                return match (&entry.response, entry.fingerprint == fingerprint) {
                    (_, false) => Begin::Mismatch,
                    (Some(response), true) => Begin::Replay(response.clone()),
                    (None, true) => Begin::InFlight,
                };
            }
        }
        keys.evict_to(self.capacity.saturating_sub(1), now, self.lease);
        keys.entries.insert(
            key.clone(),
            Entry {
                fingerprint,
                claimed: now,
                response: None,
            },
        );
        keys.order.push_back((key.clone(), now));
        Begin::Proceed
    }

    fn finish_now(&self, key: &ScopedKey, answer: Option<(Fingerprint, StoredResponse)>) {
        let mut keys = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match answer {
            Some((fingerprint, response)) => {
                if let Some(entry) = keys.entries.get_mut(key)
                    && entry.fingerprint == fingerprint
                {
                    entry.response = Some(response);
                }
            }
            None => {
                keys.entries.remove(key);
            }
        }
    }
}

impl Keys {
    /// Whether `(key, claimed)` of the claim order is still the entry's
    /// claim: a key released or claimed again leaves a stale one behind.
    fn current(&self, key: &ScopedKey, claimed: Instant) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.claimed == claimed)
    }

    /// Drops what is older than `ttl`, oldest first. A request still
    /// running keeps its key, and what was claimed after it waits with it:
    /// at most a lease longer.
    fn expire(&mut self, now: Instant, ttl: Duration, lease: Duration) {
        while let Some((key, claimed)) = self.order.front() {
            if now.duration_since(*claimed) <= ttl {
                break;
            }
            match self.current(key, *claimed) {
                Some(entry) if entry.running(now, lease) => break,
                Some(_) => {
                    let key = key.clone();
                    self.entries.remove(&key);
                }
                None => {}
            }
            self.order.pop_front();
        }
    }

    /// Drops the oldest answers (and abandoned claims) until at most
    /// `capacity` entries are left, skipping requests still running.
    fn evict_to(&mut self, capacity: usize, now: Instant, lease: Duration) {
        let mut index = 0;
        while self.entries.len() > capacity && index < self.order.len() {
            let (key, claimed) = &self.order[index];
            match self.current(key, *claimed) {
                Some(entry) if entry.running(now, lease) => index += 1,
                Some(_) => {
                    let key = key.clone();
                    self.entries.remove(&key);
                    self.order.remove(index);
                }
                None => {
                    self.order.remove(index);
                }
            }
        }
    }
}

impl IdempotencyStore for MemoryKeys {
    async fn begin(&self, key: &ScopedKey, fingerprint: Fingerprint) -> Begin {
        self.begin_now(key, fingerprint)
    }

    async fn complete(
        &self,
        key: &ScopedKey,
        fingerprint: Fingerprint,
        response: StoredResponse,
    ) -> Result<(), KeyStoreError> {
        self.finish_now(key, Some((fingerprint, response)));
        Ok(())
    }

    async fn release(&self, key: &ScopedKey) -> Result<(), KeyStoreError> {
        self.finish_now(key, None);
        Ok(())
    }
}

type ScopeFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// A layer that makes every unsafe request (`POST`, `PUT`, `PATCH`,
/// `DELETE`) carrying `Idempotency-Key` happen at most once.
///
/// The first request with a key is handled and its answer kept; a retry
/// with the same key and the same request gets that answer again, marked
/// `Idempotency-Replayed: true`, before any precondition is evaluated. The
/// same key on a different request is a 422; a retry while the first is
/// still being handled is a 409. A 5xx answer is not kept, so a retry is
/// handled afresh.
///
/// Once a keyed request is admitted, its handler and the keeping of its
/// answer run as a task of their own: a client that hangs up cannot stop
/// a move half way, and its retry gets the committed answer replayed.
///
/// An answer whose body is over 1 MiB (or of unknown length) is kept as
/// its status and headers only: its replay has an empty body. When the key
/// store fails to keep an answer (tried three times), the answer is sent
/// all the same, marked `Idempotency-Unsaved: true`, and the failure is
/// logged: a retry of it may be handled afresh once the key's lease lapses.
///
/// Without [`scoped_by`](Idempotency::scoped_by), every client shares one
/// space of keys: two clients that pick the same key collide (the second
/// gets the first's answer, or a 422). Scope keys by the authenticated
/// client wherever clients do not coordinate their keys.
///
/// ```
/// use axum::{Router, routing::post};
/// use conflict_runtime::http::{Idempotency, MemoryKeys};
///
/// let app: Router = Router::new()
///     .route("/orders/{id}/{action}", post(|| async { "moved" }))
///     .layer(Idempotency::new(MemoryKeys::default()).scoped_by(|parts| {
///         // Keys are per client; here clients name themselves in a header.
///         parts.headers.get("x-client-id")?.to_str().ok().map(str::to_owned)
///     }));
/// ```
#[derive(Clone)]
pub struct Idempotency<K> {
    keys: K,
    scope: Option<Arc<ScopeFn>>,
}

impl<K: IdempotencyStore> Idempotency<K> {
    /// Keys kept in `keys`, all in one scope shared by every client: see
    /// [`scoped_by`](Idempotency::scoped_by).
    pub fn new(keys: K) -> Self {
        Idempotency { keys, scope: None }
    }

    /// Keys are scoped per client: `scope` names the client of a request
    /// (from an authenticated identity, say), so two clients never share a key.
    #[must_use]
    pub fn scoped_by(
        mut self,
        scope: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.scope = Some(Arc::new(scope));
        self
    }
}

impl<S, K: Clone> tower_layer::Layer<S> for Idempotency<K> {
    type Service = IdempotencyService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            keys: self.keys.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// The service of [`Idempotency`].
#[derive(Clone)]
pub struct IdempotencyService<S, K> {
    inner: S,
    keys: K,
    scope: Option<Arc<ScopeFn>>,
}

impl<S, K> tower_service::Service<Request> for IdempotencyService<S, K>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    K: IdempotencyStore,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was driven to readiness handles this request.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let keys = self.keys.clone();
        let scope = self.scope.clone();
        Box::pin(async move { Ok(handle(request, inner, keys, scope.as_deref()).await) })
    }
}

async fn handle<S, K>(request: Request, mut inner: S, keys: K, scope: Option<&ScopeFn>) -> Response
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    K: IdempotencyStore,
{
    let unsafe_method = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !unsafe_method || !request.headers().contains_key(&IDEMPOTENCY_KEY) {
        return call(&mut inner, request).await;
    }
    let (parts, body) = request.into_parts();
    let instance = parts.uri.path().to_owned();
    let key = match idempotency_key(&parts.headers) {
        Ok(key) => ScopedKey {
            scope: scope.and_then(|scope| scope(&parts)).unwrap_or_default(),
            key,
        },
        Err(detail) => {
            return problem::malformed(detail)
                .with_instance(instance)
                .into_response();
        }
    };
    // Through the request's own parts, so that a `DefaultBodyLimit` applies.
    let body = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(body) => body,
        Err(refused) => {
            return problem::rejection(refused.status(), refused.body_text())
                .with_instance(instance)
                .into_response();
        }
    };
    let fingerprint = fingerprint(&parts, &body);
    match keys.begin(&key, fingerprint).await {
        Begin::Proceed => {}
        Begin::Replay(stored) => return replay(stored),
        Begin::InFlight => {
            return problem::key_in_flight()
                .with_instance(instance)
                .into_response();
        }
        Begin::Unavailable => return Problem::internal().with_instance(instance).into_response(),
        Begin::Mismatch => {
            return problem::key_reused()
                .with_instance(instance)
                .into_response();
        }
    }
    let mut parts = parts;
    parts.extensions.insert(KeyedRequest {
        key: key.clone(),
        fingerprint,
    });
    let (task_keys, task_key) = (keys.clone(), key.clone());
    let handled = async move {
        let response = call(&mut inner, Request::from_parts(parts, Body::from(body))).await;
        keep(response, &task_keys, &task_key, fingerprint).await
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return handled.await;
    };
    match runtime.spawn(handled).await {
        Ok(response) => response,
        Err(failed) => {
            tracing::error!(error = %failed, "the handler of a keyed request failed");
            release(&keys, &key).await;
            Problem::internal().with_instance(instance).into_response()
        }
    }
}

/// Largest response body kept for replay.
const MAX_KEPT_BODY: usize = 1024 * 1024;

/// Set to `true` on an answer the key store failed to keep.
pub const IDEMPOTENCY_UNSAVED: HeaderName = HeaderName::from_static("idempotency-unsaved");

/// How often a key store is asked to keep an answer or let a key go, and
/// how long to wait before asking again.
const KEY_STORE_RETRIES: [Duration; 2] = [Duration::from_millis(20), Duration::from_millis(200)];

/// Keeps the answer to a keyed request (a 5xx lets the key go instead) and
/// sends it on.
async fn keep<K: IdempotencyStore>(
    mut response: Response,
    keys: &K,
    key: &ScopedKey,
    fingerprint: Fingerprint,
) -> Response {
    if response.extensions_mut().remove::<AnswerKept>().is_some() {
        return response;
    }
    if response.status().is_server_error() {
        release(keys, key).await;
        return response;
    }
    let Ok((stored, response)) = stored(response).await else {
        // The handler's body failed while it was read: nothing to keep.
        release(keys, key).await;
        return Problem::internal().into_response();
    };
    let mut outcome = keys.complete(key, fingerprint, stored.clone()).await;
    for pause in KEY_STORE_RETRIES {
        if outcome.is_ok() {
            break;
        }
        tokio::time::sleep(pause).await;
        outcome = keys.complete(key, fingerprint, stored.clone()).await;
    }
    let (mut head, body) = response.into_parts();
    if let Err(error) = outcome {
        tracing::error!(
            %error,
            key = %key.key,
            "the idempotency key store failed to keep an answer; it is sent marked Idempotency-Unsaved"
        );
        head.headers
            .insert(IDEMPOTENCY_UNSAVED, HeaderValue::from_static("true"));
    }
    Response::from_parts(head, body)
}

/// The answer to keep for `response` (its body, when small enough to keep),
/// and the response to send on.
///
/// # Errors
/// The response's body failed while it was read.
pub(crate) async fn stored(response: Response) -> Result<(StoredResponse, Response), axum::Error> {
    let (head, body) = response.into_parts();
    let small = body
        .size_hint()
        .upper()
        .is_some_and(|size| size <= MAX_KEPT_BODY as u64);
    let (kept, body) = if small {
        let bytes = axum::body::to_bytes(body, MAX_KEPT_BODY).await?;
        (bytes.clone(), Body::from(bytes))
    } else {
        (Bytes::new(), body)
    };
    let mut headers = head.headers.clone();
    if !small {
        // Kept without its body: the replay must not promise one.
        headers.remove(CONTENT_LENGTH);
        headers.remove(CONTENT_TYPE);
    }
    let stored = StoredResponse {
        status: head.status,
        headers,
        body: kept,
    };
    Ok((stored, Response::from_parts(head, body)))
}

/// Lets `key` go, asking the store again if it fails; a key that cannot be
/// let go is freed by its lease.
async fn release<K: IdempotencyStore>(keys: &K, key: &ScopedKey) {
    let mut outcome = keys.release(key).await;
    for pause in KEY_STORE_RETRIES {
        if outcome.is_ok() {
            break;
        }
        tokio::time::sleep(pause).await;
        outcome = keys.release(key).await;
    }
    if let Err(error) = outcome {
        tracing::error!(%error, key = %key.key, "the idempotency key store failed to let a key go; its lease will");
    }
}

async fn call<S>(inner: &mut S, request: Request) -> Response
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    match inner.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn replay(stored: StoredResponse) -> Response {
    // The kept headers as they were: no content type of the body's own.
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = stored.status;
    *response.headers_mut() = stored.headers;
    response
        .headers_mut()
        .insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    response
}

/// Longest key accepted; the draft's examples are UUIDs.
const MAX_KEY_LEN: usize = 255;

/// Reads the `Idempotency-Key`: an RFC 8941 string (`"…"`), or for
/// convenience a bare run of visible ASCII, of 1 to 255 characters.
///
/// # Errors
/// Why the header is malformed (absent, repeated, or breaking the
/// grammar), for the `detail` of a 400 problem.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, String> {
    let mut values = headers.get_all(&IDEMPOTENCY_KEY).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err("send exactly one Idempotency-Key header".to_owned());
    };
    let bytes = value.as_bytes();
    let key = match bytes {
        [b'"', inner @ .., b'"'] => {
            let mut key = String::with_capacity(inner.len());
            let mut chars = inner.iter();
            while let Some(&byte) = chars.next() {
                let byte = match byte {
                    b'\\' => match chars.next() {
                        Some(&escaped @ (b'"' | b'\\')) => escaped,
                        _ => {
                            return Err(
                                "Idempotency-Key: a `\\` escapes only `\"` or `\\`".to_owned()
                            );
                        }
                    },
                    b'"' => {
                        return Err("Idempotency-Key: unescaped `\"` inside the string".to_owned());
                    }
                    0x20..=0x7E => byte,
                    _ => return Err("Idempotency-Key must be printable ASCII".to_owned()),
                };
                key.push(char::from(byte));
            }
            key
        }
        _ if bytes
            .iter()
            .all(|&b| (0x21..=0x7E).contains(&b) && b != b'"') =>
        {
            String::from_utf8_lossy(bytes).into_owned()
        }
        _ => {
            return Err(
                "Idempotency-Key must be a quoted string such as \"8e03978e-40d5\"".to_owned(),
            );
        }
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} characters"
        ));
    }
    Ok(key)
}

fn fingerprint(parts: &Parts, body: &[u8]) -> Fingerprint {
    let mut hasher = Sha256::new();
    // Length-prefixed fields: no two different requests hash the same input.
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .map_or(&[][..], HeaderValue::as_bytes);
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    for field in [
        parts.method.as_str().as_bytes(),
        target.as_bytes(),
        content_type,
        body,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    Fingerprint(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};

    use super::{
        Begin, Fingerprint, IDEMPOTENCY_KEY, MemoryKeys, ScopedKey, StoredResponse, idempotency_key,
    };

    fn key(text: &str) -> Result<String, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_bytes(text.as_bytes()).unwrap(),
        );
        idempotency_key(&headers)
    }

    #[test]
    fn keys_are_strings_or_bare_tokens() {
        assert_eq!(key("\"abc-1\"").unwrap(), "abc-1");
        assert_eq!(key("\"a \\\"b\\\" \\\\\"").unwrap(), "a \"b\" \\");
        assert_eq!(key("abc-1").unwrap(), "abc-1");
        for bad in ["\"\"", "\"a\\b\"", "\"a\"b\"", "a b", "\"", ""] {
            assert!(key(bad).is_err(), "{bad}");
        }
        assert!(key(&"x".repeat(256)).is_err());
    }

    fn scoped(key: &str) -> ScopedKey {
        ScopedKey {
            scope: String::new(),
            key: key.to_owned(),
        }
    }

    fn ok() -> StoredResponse {
        StoredResponse {
            status: axum::http::StatusCode::OK,
            headers: HeaderMap::new(),
            body: "done".into(),
        }
    }

    #[test]
    fn a_key_replays_mismatches_and_is_in_flight() {
        let keys = MemoryKeys::default();
        let (a, b) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
        assert!(matches!(keys.begin_now(&scoped("k"), a), Begin::Proceed));
        assert!(matches!(keys.begin_now(&scoped("k"), a), Begin::InFlight));
        assert!(matches!(keys.begin_now(&scoped("k"), b), Begin::Mismatch));
        keys.finish_now(&scoped("k"), Some((a, ok())));
        assert!(matches!(keys.begin_now(&scoped("k"), a), Begin::Replay(r) if r.body == "done"));
        assert!(matches!(
            keys.begin_now(&scoped("other"), a),
            Begin::Proceed
        ));
        keys.finish_now(&scoped("other"), None);
        assert!(matches!(
            keys.begin_now(&scoped("other"), a),
            Begin::Proceed
        ));
    }

    #[test]
    fn a_running_request_keeps_its_key_past_the_capacity_and_the_ttl() {
        let a = Fingerprint([1; 32]);
        let keys = MemoryKeys::new(Duration::from_millis(20), 2);
        keys.begin_now(&scoped("running"), a);
        for k in ["1", "2", "3"] {
            keys.begin_now(&scoped(k), a);
            keys.finish_now(&scoped(k), Some((a, ok())));
        }
        // Answers were evicted to make room; the running request was not.
        assert!(matches!(
            keys.begin_now(&scoped("running"), a),
            Begin::InFlight
        ));
        assert!(matches!(keys.begin_now(&scoped("3"), a), Begin::Replay(_)));
        std::thread::sleep(Duration::from_millis(40));
        // Older than the time to live, but still running: kept.
        assert!(matches!(
            keys.begin_now(&scoped("running"), a),
            Begin::InFlight
        ));
        keys.finish_now(&scoped("running"), Some((a, ok())));
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(
            keys.begin_now(&scoped("running"), a),
            Begin::Proceed
        ));
    }

    #[test]
    fn keys_expire_are_bounded_and_abandoned_claims_lapse() {
        let a = Fingerprint([1; 32]);
        let keys = MemoryKeys::new(Duration::from_millis(20), 2);
        keys.begin_now(&scoped("1"), a);
        keys.finish_now(&scoped("1"), Some((a, ok())));
        std::thread::sleep(Duration::from_millis(40));
        assert!(
            matches!(keys.begin_now(&scoped("1"), a), Begin::Proceed),
            "expired"
        );

        // Past the capacity, the oldest answer goes first.
        let keys = MemoryKeys::new(Duration::from_mins(1), 2);
        for k in ["1", "2", "3"] {
            keys.begin_now(&scoped(k), a);
            keys.finish_now(&scoped(k), Some((a, ok())));
        }
        assert!(
            matches!(keys.begin_now(&scoped("1"), a), Begin::Proceed),
            "evicted"
        );
        assert!(matches!(keys.begin_now(&scoped("3"), a), Begin::Replay(_)));

        let keys = MemoryKeys::default().with_lease(Duration::from_millis(10));
        keys.begin_now(&scoped("1"), a);
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            matches!(keys.begin_now(&scoped("1"), a), Begin::Proceed),
            "lease lapsed"
        );
    }
}
