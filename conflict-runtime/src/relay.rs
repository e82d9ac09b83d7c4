//! The outbox published to a broker, for other services: NATS JetStream.
//!
//! A relay is one more durable handler ([`Dispatcher::relay`]): it shares
//! the dispatcher's retries, dead deliveries and work shared between
//! instances. Each event is published with its key ([`Event::key`]) as
//! `Nats-Msg-Id`, so a publish repeated after a crash (the event was
//! stored, its acknowledgement lost) falls in the stream's duplicate window
//! and is dropped: a consumer sees each event once.
//!
//! The subject is `{prefix}.{state entered}` (`orders.shipped`), the
//! action in the `Conflict-Action` header, the payload the event's JSON
//! ([`EVENT_SCHEMA`](crate::moves::EVENT_SCHEMA), `conflict.event.v1`):
//!
//! ```json
//! {"schema": "conflict.event.v1", "position": 42, "key": "order:7:3",
//!  "kind": "order", "id": "7", "version": 3, "from": "paid", "to": "shipped",
//!  "action": "ship", "at": "2026-11-30T09:00:00.000Z", "actor": "staff",
//!  "reason": null, "input": {"tracking_number": "1Z999AA1"}}
//! ```

use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};

use crate::machine::{Action, StateMachine};
use crate::moves::{Dispatcher, Event, HookError, Outbox};
use crate::store::Resource;

/// Publishes events to the JetStream streams that take `{prefix}.>`.
#[derive(Clone, Debug)]
pub struct JetStream {
    context: jetstream::Context,
    prefix: String,
}

/// What JetStream answered a publish with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence in the stream.
    pub sequence: u64,
    /// The stream had it already (a repeat within the duplicate window):
    /// not stored again.
    pub duplicate: bool,
}

impl JetStream {
    /// A relay to the streams of `context` that take `{prefix}.>`.
    pub fn new(context: jetstream::Context, prefix: impl Into<String>) -> Self {
        JetStream {
            context,
            prefix: prefix.into(),
        }
    }

    /// The subject of `event`: `{prefix}.{state entered}`.
    pub fn subject<S: StateMachine>(&self, event: &Event<S>) -> String {
        format!("{}.{}", self.prefix, event.entry.to.name())
    }

    /// Sends `event` without waiting for JetStream to store it: the future
    /// answers once the stream has.
    ///
    /// # Errors
    /// The event does not serialize, or the connection refuses the publish.
    pub async fn send<S: StateMachine>(
        &self,
        event: &Event<S>,
    ) -> Result<PublishAckFuture, HookError> {
        let mut message = PublishMessage::build()
            .payload(serde_json::to_vec(event)?.into())
            .message_id(event.key());
        if let Some(action) = event.entry.action {
            message = message.header("Conflict-Action", action.name());
        }
        Ok(self
            .context
            .send_publish(self.subject(event), message)
            .await?)
    }

    /// Publishes `event` and waits for the stream to store it.
    ///
    /// # Errors
    /// As [`send`](JetStream::send), or no stream takes the subject, or
    /// the acknowledgement does not come in time.
    pub async fn publish<S: StateMachine>(&self, event: &Event<S>) -> Result<Published, HookError> {
        let ack = self.send(event).await?.await?;
        Ok(Published {
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}

impl<R: Resource, St: Outbox<R>> Dispatcher<R, St> {
    /// Publishes every committed move to JetStream as the durable handler
    /// `name`: retried, parked dead and shared between instances like any
    /// other.
    #[must_use]
    pub fn relay(self, name: &'static str, to: JetStream) -> Self {
        self.every(name, move |event| {
            let to = to.clone();
            async move { to.publish(&event).await.map(drop) }
        })
    }
}
