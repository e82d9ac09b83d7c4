//! Committed moves as Server-Sent Events: `GET /orders/events` and
//! `GET /orders/{id}/events`, in order, resumable with `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::problem::{self, Problem};
use crate::machine::StateMachine;
use crate::moves::{Caller, Event, Outbox, Rules, Wake, Wakeups};
use crate::store::Resource;

/// Where a stream of events starts: after the position in `Last-Event-ID`
/// (a client resuming), after `?after=N`, or, with neither, after the latest
/// event (only what comes next). Anything but a whole number is a 400.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId {
    after: Option<u64>,
    instance: String,
}

impl LastEventId {
    /// The position the client has seen, if it says.
    #[must_use]
    pub fn after(&self) -> Option<u64> {
        self.after
    }
}

impl<St: Send + Sync> FromRequestParts<St> for LastEventId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Problem> {
        let instance = parts.uri.path().to_owned();
        let bad = |what: &str| {
            problem::malformed(format!(
                "{what} is the position of the last event received, a whole number"
            ))
            .with_instance(parts.uri.path())
        };
        let after = if let Some(header) = parts.headers.get("last-event-id") {
            let position = header
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or_else(|| bad("`Last-Event-ID`"))?;
            Some(position)
        } else {
            let after = parts
                .uri
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|pair| pair.strip_prefix("after="));
            match after {
                Some(after) => Some(after.parse().map_err(|_| bad("`after`"))?),
                None => None,
            }
        };
        Ok(LastEventId { after, instance })
    }
}

/// How often an idle stream sends a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How many events a stream reads at a time.
const BATCH: usize = 100;

/// A stream of committed moves: `id:` the event's position, `event: moved`,
/// `data:` the event's JSON ([`Event`]'s `conflict.event.v1`). Events of an
/// action the caller may not request are left out, as `transitions` leaves
/// the action out.
pub struct EventStream(Response);

impl EventStream {
    /// The stream of every event of `store`'s kind, for `caller`, from
    /// where the client says.
    ///
    /// # Errors
    /// A 410 problem when `from` is not among the events still kept (older
    /// than the retention, or never given by this store), or the store's
    /// failure.
    pub async fn all<R, St>(
        store: St,
        rules: &Rules<R>,
        caller: &dyn Caller,
        from: LastEventId,
    ) -> Result<EventStream, Problem>
    where
        R: Resource,
        St: Outbox<R> + Wake,
    {
        EventStream::open(store, rules, caller, from, None).await
    }

    /// The stream of the events of one resource (`id`, as its events name
    /// it), for `caller`, from where the client says.
    ///
    /// # Errors
    /// As [`all`](EventStream::all).
    pub async fn of<R, St>(
        store: St,
        rules: &Rules<R>,
        caller: &dyn Caller,
        id: String,
        from: LastEventId,
    ) -> Result<EventStream, Problem>
    where
        R: Resource,
        St: Outbox<R> + Wake,
    {
        EventStream::open(store, rules, caller, from, Some(id)).await
    }

    async fn open<R, St>(
        store: St,
        rules: &Rules<R>,
        caller: &dyn Caller,
        from: LastEventId,
        id: Option<String>,
    ) -> Result<EventStream, Problem>
    where
        R: Resource,
        St: Outbox<R> + Wake,
    {
        let instance = from.instance.as_str();
        let located = |problem: Problem| problem.with_instance(instance);
        // Wake-ups first: a commit between the look below and the first
        // read is not missed.
        let wakeups = store.wakeups().await;
        let latest = store.latest().await.map_err(|e| located(e.into()))?;
        let after = match from.after {
            None => latest,
            Some(after) if after > latest => {
                return Err(located(problem::gone(format!(
                    "no event {after} was ever given here (the latest is {latest}): start afresh"
                ))));
            }
            Some(after) => {
                let kept_after = store.kept_after().await.map_err(|e| located(e.into()))?;
                if after < kept_after {
                    return Err(located(problem::gone(format!(
                        "the events after {after} are no longer kept (the oldest kept follows {kept_after}): start afresh"
                    ))));
                }
                after
            }
        };
        let hidden: Vec<<R::State as StateMachine>::Action> =
            <<R::State as StateMachine>::Action as crate::Action>::ALL
                .iter()
                .copied()
                .filter(|&action| !rules.permits(caller, action))
                .collect();
        let reading = Reading {
            store,
            after,
            pending: VecDeque::new(),
            wakeups,
            id,
            hidden,
        };
        let events = stream::unfold(reading, Reading::next);
        Ok(EventStream(Sse::new(events).into_response()))
    }
}

impl IntoResponse for EventStream {
    fn into_response(self) -> Response {
        self.0
    }
}

struct Reading<R: Resource, St> {
    store: St,
    after: u64,
    pending: VecDeque<Event<R::State>>,
    wakeups: Wakeups,
    id: Option<String>,
    hidden: Vec<<R::State as StateMachine>::Action>,
}

impl<R: Resource, St: Outbox<R>> Reading<R, St> {
    fn shown(&self, event: &Event<R::State>) -> bool {
        self.id.as_ref().is_none_or(|id| *id == event.id)
            && event
                .entry
                .action
                .is_none_or(|action| !self.hidden.contains(&action))
    }

    /// The next event to send, waiting for one as long as it takes.
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                let sent = SseEvent::default()
                    .id(event.position.to_string())
                    .event("moved")
                    .json_data(&event)
                    .unwrap_or_default();
                return Some((Ok(sent), self));
            }
            let read = match &self.id {
                Some(id) => self.store.events_of(id, self.after, BATCH).await,
                None => self.store.events(self.after, BATCH).await,
            };
            match read {
                Ok(events) if !events.is_empty() => {
                    if let Some(last) = events.last() {
                        self.after = last.position;
                    }
                    let shown: Vec<Event<R::State>> = events
                        .into_iter()
                        .filter(|event| self.shown(event))
                        .collect();
                    self.pending.extend(shown);
                }
                Ok(_) => {
                    if !self.wakeups.wait(KEEP_ALIVE).await {
                        // Quiet for a while: a comment keeps proxies from
                        // closing the stream.
                        let comment = SseEvent::default().comment("keep-alive");
                        return Some((Ok(comment), self));
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "an event stream could not read the outbox; it ends");
                    return None;
                }
            }
        }
    }
}
