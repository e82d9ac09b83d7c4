//! Durable handlers: effects of committed moves that survive a crash. A
//! dispatcher delivers each event of a store's outbox to each handler that
//! wants it, at least once, retrying failures with backoff until they are
//! dead; any number of dispatchers may share a store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::history::Entry;
use super::outbox::{Delivery, Event, Outbox, Settled};
use super::rules::HookError;
use super::store::{Resource, StoreError};
use crate::machine::StateMachine;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Run<S> = Arc<dyn Fn(Event<S>) -> BoxFuture<Result<(), HookError>> + Send + Sync>;

/// Which events a handler wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wants<S: StateMachine> {
    Every,
    Action(S::Action),
    Entering(S),
    Leaving(S),
}

impl<S: StateMachine> Wants<S> {
    fn covers(self, entry: &Entry<S>) -> bool {
        match self {
            Wants::Every => true,
            Wants::Action(action) => entry.action == Some(action),
            Wants::Entering(state) => entry.to == state,
            Wants::Leaving(state) => entry.from == state,
        }
    }
}

struct Handler<S: StateMachine> {
    name: &'static str,
    wants: Wants<S>,
    run: Run<S>,
}

impl<S: StateMachine> Clone for Handler<S> {
    fn clone(&self) -> Self {
        Handler {
            name: self.name,
            wants: self.wants,
            run: Arc::clone(&self.run),
        }
    }
}

/// How failed deliveries are tried again: `attempts` in all, the first
/// retry after `first`, each next one twice as late, never later than `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all before a delivery is dead.
    pub attempts: u32,
    /// The wait before the first retry.
    pub first: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
}

impl Default for Retry {
    /// 8 attempts, from 1 second to 5 minutes apart.
    fn default() -> Self {
        Retry {
            attempts: 8,
            first: Duration::from_secs(1),
            max: Duration::from_mins(5),
        }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (from 1).
    #[must_use]
    pub fn after(&self, attempt: u32) -> Duration {
        let doubling = attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(1_u32 << doubling).min(self.max)
    }
}

/// Delivers the events of a store's outbox to durable handlers.
///
/// Each handler receives each event it wants at least once: a dispatcher
/// that dies with a delivery in hand (a crash, a killed pod) leaves it to
/// another, or to itself after a restart, once the delivery's lease ends.
/// A handler should therefore be idempotent: [`Event::key`] is the same on
/// every delivery of one event. A handler that fails is tried again with
/// backoff ([`Retry`]); past its last attempt the delivery is dead, kept
/// with its error ([`Outbox::dead`]) until revived ([`Outbox::revive`]).
///
/// Any number of dispatchers (in one process or many) may run on one
/// store: each delivery goes to one of them at a time.
///
/// ```
/// # use conflict_runtime::StateMachine;
/// # use conflict_runtime::store::Resource;
/// # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// # enum DoorState { #[state(initial, on(open -> Open))] Closed, #[state(on(close -> Closed))] Open }
/// # #[derive(Clone, PartialEq)]
/// # struct Door { state: DoorState }
/// # impl Resource for Door {
/// #     type State = DoorState;
/// #     fn state(&self) -> DoorState { self.state }
/// #     fn set_state(&mut self, state: DoorState) { self.state = state }
/// # }
/// use conflict_runtime::moves::{Dispatcher, Retry};
/// use conflict_runtime::store::MemoryStore;
///
/// let doors = MemoryStore::<Door>::new();
/// let dispatcher = Dispatcher::new(doors.clone())
///     .on_enter(DoorState::Open, "log_openings", |event| async move {
///         println!("{} opened ({})", event.id, event.key());
///         Ok(())
///     })
///     .retry(Retry { attempts: 5, ..Retry::default() });
/// # drop(dispatcher);
/// ```
pub struct Dispatcher<R: Resource, St> {
    store: St,
    handlers: Vec<Handler<R::State>>,
    retry: Retry,
    lease: Duration,
    batch: usize,
    idle: Duration,
    pace: Duration,
    retention: Option<Duration>,
    concurrency: usize,
}

impl<R: Resource, St: Clone> Clone for Dispatcher<R, St> {
    fn clone(&self) -> Self {
        Dispatcher {
            store: self.store.clone(),
            handlers: self.handlers.clone(),
            retry: self.retry,
            lease: self.lease,
            batch: self.batch,
            idle: self.idle,
            pace: self.pace,
            retention: self.retention,
            concurrency: self.concurrency,
        }
    }
}

type StateOf<R> = <R as Resource>::State;
type ActionOf<R> = <<R as Resource>::State as StateMachine>::Action;

impl<R: Resource, St: Outbox<R>> Dispatcher<R, St> {
    /// A dispatcher of `store`'s events, with no handler yet.
    pub fn new(store: St) -> Self {
        Dispatcher {
            store,
            handlers: Vec::new(),
            retry: Retry::default(),
            lease: Duration::from_secs(30),
            batch: 64,
            idle: Duration::from_secs(5),
            pace: Duration::from_millis(2),
            retention: None,
            concurrency: 1,
        }
    }

    fn handler<Fut, F>(mut self, wants: Wants<StateOf<R>>, name: &'static str, run: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Event<StateOf<R>>) -> Fut + Send + Sync + 'static,
    {
        let run: Run<StateOf<R>> = Arc::new(move |event| Box::pin(run(event)));
        self.handlers.push(Handler { name, wants, run });
        self
    }

    /// Delivers every committed move to `handler`, registered as `name`.
    #[must_use]
    pub fn every<Fut, F>(self, name: &'static str, handler: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Event<StateOf<R>>) -> Fut + Send + Sync + 'static,
    {
        self.handler(Wants::Every, name, handler)
    }

    /// Delivers each committed move by `action` to `handler`, registered
    /// as `name` (the name keeps its place in the outbox across restarts:
    /// keep it stable).
    #[must_use]
    pub fn after<Fut, F>(self, action: ActionOf<R>, name: &'static str, handler: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Event<StateOf<R>>) -> Fut + Send + Sync + 'static,
    {
        self.handler(Wants::Action(action), name, handler)
    }

    /// Delivers each committed move into `state` to `handler`.
    #[must_use]
    pub fn on_enter<Fut, F>(self, state: StateOf<R>, name: &'static str, handler: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Event<StateOf<R>>) -> Fut + Send + Sync + 'static,
    {
        self.handler(Wants::Entering(state), name, handler)
    }

    /// Delivers each committed move out of `state` to `handler`.
    #[must_use]
    pub fn on_leave<Fut, F>(self, state: StateOf<R>, name: &'static str, handler: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Event<StateOf<R>>) -> Fut + Send + Sync + 'static,
    {
        self.handler(Wants::Leaving(state), name, handler)
    }

    /// How failed deliveries are tried again.
    #[must_use]
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// How long a dispatcher holds a delivery it took (30 s by default):
    /// past it, another may take it. Longer than a handler's longest run.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a dispatcher with nothing to do waits before looking again
    /// (5 s by default) when the store cannot wake it on a commit.
    #[must_use]
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// While commits keep coming, a dispatcher looks at the outbox at most
    /// once per `pace` (2 ms by default): a burst of commits is one look,
    /// not one per commit, which would take a share of the commits' own
    /// time; a commit after a quiet spell is looked at at once. Under load
    /// a delivery may wait up to `pace` more. Zero looks at every commit.
    #[must_use]
    pub fn pace(mut self, pace: Duration) -> Self {
        self.pace = pace;
        self
    }

    /// How many deliveries run at once (1 by default: one after the other,
    /// in the order of the events). More suits a handler that waits on the
    /// network, such as a relay; each still runs once per attempt, and the
    /// order between them is no longer kept.
    #[must_use]
    pub fn concurrency(mut self, deliveries: usize) -> Self {
        self.concurrency = deliveries.max(1);
        self
    }

    /// Trims the outbox to the events younger than `age` once a minute
    /// ([`Outbox::trim`]): a client that resumes an event stream from
    /// before them is told they are gone (410). Unset by default: events
    /// are kept (in memory, the store's capacity bounds them).
    #[must_use]
    pub fn retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// One pass: hands the new events to the handlers that want them, then
    /// takes the deliveries due now and runs them, unless `stop` says to
    /// stop (the deliveries taken and not yet run are then released).
    /// Answers how many deliveries ran.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn run_once(&self) -> Result<usize, StoreError<StateOf<R>>> {
        let (_, stop) = watch::channel(false);
        Ok(self.pass(&stop).await?.ran)
    }

    async fn pass(&self, stop: &watch::Receiver<bool>) -> Result<Pass, StoreError<StateOf<R>>> {
        for handler in &self.handlers {
            let wants = handler.wants;
            while self
                .store
                .follow(handler.name, &|entry| wants.covers(entry), self.batch)
                .await?
                >= self.batch
            {}
        }
        let names: Vec<&str> = self.handlers.iter().map(|handler| handler.name).collect();
        let mut claimed = self
            .store
            .claim(&names, self.batch, self.lease)
            .await?
            .into_iter();
        let mut pass = Pass {
            ran: 0,
            retry_at: None,
        };
        let mut settled = Vec::new();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < self.concurrency && !*stop.borrow() {
                let Some(delivery) = claimed.next() else {
                    break;
                };
                let Some(handler) = self.handlers.iter().find(|h| h.name == delivery.handler)
                else {
                    continue;
                };
                let handler = handler.clone();
                running.spawn(async move {
                    let outcome = run(&handler.run, delivery.event.clone()).await;
                    (handler.name, delivery, outcome)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            // The task only awaits the handler's own task, which catches its panic.
            let Ok((name, delivery, outcome)) = joined else {
                continue;
            };
            let outcome = self.settled(name, &delivery, outcome);
            if let Settled::Retry { at, .. } = &outcome {
                pass.retry_at = Some(pass.retry_at.map_or(*at, |soonest| soonest.min(*at)));
            }
            settled.push((delivery, outcome));
            pass.ran += 1;
        }
        // Stopping: what was taken and not started goes back, due now.
        settled.extend(claimed.map(|delivery| (delivery, Settled::Released)));
        if !settled.is_empty() {
            self.store.settle(settled).await?;
        }
        Ok(pass)
    }

    /// What becomes of a delivery after its attempt.
    fn settled(
        &self,
        handler: &str,
        delivery: &Delivery<StateOf<R>>,
        outcome: Result<(), HookError>,
    ) -> Settled {
        match outcome {
            Ok(()) => Settled::Done,
            Err(error) if delivery.attempt >= self.retry.attempts => {
                tracing::error!(
                    handler,
                    event = %delivery.event.key(),
                    attempts = delivery.attempt,
                    %error,
                    "durable handler failed its last attempt; the delivery is dead"
                );
                Settled::Dead {
                    error: error.to_string(),
                }
            }
            Err(error) => {
                tracing::warn!(
                    handler,
                    event = %delivery.event.key(),
                    attempt = delivery.attempt,
                    %error,
                    "durable handler failed; it will be tried again"
                );
                Settled::Retry {
                    at: SystemTime::now() + self.retry.after(delivery.attempt),
                    error: error.to_string(),
                }
            }
        }
    }
}

/// What one pass did.
struct Pass {
    /// How many deliveries ran.
    ran: usize,
    /// When the soonest of the retries it set is due.
    retry_at: Option<SystemTime>,
}

/// Runs a handler as a task of its own: a panic is its failure.
async fn run<S: StateMachine>(run: &Run<S>, event: Event<S>) -> Result<(), HookError> {
    let future = run(event);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn(future)
            .await
            .unwrap_or_else(|panicked| Err(format!("the handler panicked: {panicked}").into())),
        Err(_) => future.await,
    }
}

/// How often a dispatcher with a retention trims the outbox.
const TRIM_EVERY: Duration = Duration::from_mins(1);

/// A dispatcher or a scheduler running as a task:
/// [`shutdown`](Running::shutdown) stops it.
#[must_use = "a running dispatcher stops when shut down; drop it to let it run detached"]
pub struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(super) fn new(stop: watch::Sender<bool>, task: tokio::task::JoinHandle<()>) -> Self {
        Running { stop, task }
    }

    /// Stops taking deliveries, finishes the one running, lets the others
    /// it holds go (due again at once, for another dispatcher or the next
    /// start), and waits for the task to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl<R, St> Dispatcher<R, St>
where
    R: Resource,
    St: Outbox<R> + Wake,
{
    /// Registers the handlers with the store, then runs passes as a task
    /// until shut down: after a pass that ran nothing, waits for the store
    /// to say a move committed (`LISTEN` in Postgres, in process elsewhere)
    /// or for the idle time, whichever comes first. A pass that fails (the
    /// database is away) is logged and tried again after the idle time.
    ///
    /// A handler new to the store receives the moves that commit after it
    /// is registered: start the dispatcher before serving, and no move is
    /// missed, even one whose process dies before its first pass.
    ///
    /// # Errors
    /// The store's failure to register a handler.
    pub async fn start(self) -> Result<Running, StoreError<StateOf<R>>> {
        for handler in &self.handlers {
            self.store.follow(handler.name, &|_| false, 0).await?;
        }
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut wakeups = self.store.wakeups().await;
            // The soonest retry this dispatcher set: it looks again then,
            // not only at the next commit or the idle time.
            let mut retry_at: Option<SystemTime> = None;
            let mut trimmed_at: Option<tokio::time::Instant> = None;
            loop {
                if *stopped.borrow() {
                    break;
                }
                if let Some(age) = self.retention
                    && trimmed_at.is_none_or(|at| at.elapsed() >= TRIM_EVERY)
                {
                    trimmed_at = Some(tokio::time::Instant::now());
                    if let Err(error) = self.store.trim(age).await {
                        tracing::error!(%error, "the dispatcher could not trim the outbox");
                    }
                }
                let looked_at = tokio::time::Instant::now();
                match self.pass(&stopped).await {
                    Ok(pass) => {
                        if let Some(at) = pass.retry_at {
                            retry_at = Some(retry_at.map_or(at, |soonest| soonest.min(at)));
                        }
                        if pass.ran > 0 {
                            continue;
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "the dispatcher could not read the outbox; trying again");
                    }
                }
                let now = SystemTime::now();
                let wait = match retry_at {
                    Some(at) if at <= now => {
                        retry_at = None;
                        continue;
                    }
                    Some(at) => self.idle.min(at.duration_since(now).unwrap_or_default()),
                    None => self.idle,
                };
                let committed = tokio::select! {
                    committed = wakeups.wait(wait) => committed,
                    _ = stopped.changed() => false,
                };
                // Woken by a commit soon after the last look: the commits
                // of the rest of the pace are looked at together.
                if committed {
                    let rest = self.pace.saturating_sub(looked_at.elapsed());
                    if !rest.is_zero() {
                        tokio::select! {
                            () = tokio::time::sleep(rest) => {}
                            _ = stopped.changed() => {}
                        }
                    }
                }
            }
        });
        Ok(Running { stop, task })
    }
}

/// What wakes a dispatcher (or an event stream) when a move commits.
pub trait Wake {
    /// A source of wake-ups at each commit.
    fn wakeups(&self) -> impl Future<Output = Wakeups> + Send;
}

/// A source of wake-ups.
pub struct Wakeups(Box<dyn Waiter>);

impl Wakeups {
    /// Wake-ups from `waiter`.
    pub(crate) fn new(waiter: impl Waiter + 'static) -> Self {
        Wakeups(Box::new(waiter))
    }

    /// Waits for a commit, or `at_most`, whichever comes first: `true`
    /// when a commit came.
    pub async fn wait(&mut self, at_most: Duration) -> bool {
        tokio::time::timeout(at_most, self.0.next()).await.is_ok()
    }
}

/// One kind of wake-up: a notification in process, a `LISTEN`.
pub(crate) trait Waiter: Send {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The commits of one store in this process, for its dispatchers and
/// streams to wait on: a wait that starts after a commit it has not seen
/// ends at once, so no commit between two looks is missed. A store shared
/// by several processes also tells the others (`remote`).
#[derive(Clone)]
pub(crate) struct Commits {
    local: Arc<watch::Sender<u64>>,
    remote: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for Commits {
    fn default() -> Self {
        Commits {
            local: Arc::new(watch::Sender::new(0)),
            remote: None,
        }
    }
}

impl Commits {
    /// Commits that also call `remote`, to tell other processes.
    #[cfg(feature = "postgres")]
    pub(crate) fn telling(remote: impl Fn() + Send + Sync + 'static) -> Self {
        Commits {
            remote: Some(Arc::new(remote)),
            ..Commits::default()
        }
    }

    /// Says a move committed.
    pub(crate) fn signal(&self) {
        self.local
            .send_modify(|commits| *commits = commits.wrapping_add(1));
        if let Some(remote) = &self.remote {
            remote();
        }
    }

    /// The receiving end in this process.
    pub(crate) fn receiver(&self) -> watch::Receiver<u64> {
        self.local.subscribe()
    }

    /// Wake-ups at the commits from now on.
    pub(crate) fn wakeups(&self) -> Wakeups {
        Wakeups::new(self.receiver())
    }
}

impl Waiter for watch::Receiver<u64> {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if self.changed().await.is_err() {
                // The store is gone: nothing will commit.
                std::future::pending::<()>().await;
            }
        })
    }
}
