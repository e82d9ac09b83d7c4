//! Deadlines kept by the store with the move that sets them, and the
//! scheduler that makes them: each due deadline is an ordinary move,
//! conditional on the version at which it was set.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::ser::{Serialize, SerializeMap, Serializer};
use tokio::sync::watch;

use super::dispatch::{Retry, Running};
use super::engine::{Engine, MoveSpec};
use super::error::{MoveError, MoveErrorKind};
use super::rules::Caller;
use super::store::{Expected, Resource, Store, StoreError};
use crate::deadline::{Deadline, InvalidDeadline};
use crate::machine::{Action, StateMachine};

type StateOf<R> = <R as Resource>::State;

/// What a claim answers: the deadlines claimed, or the store's failure.
pub type Claimed<R, Id> = Result<Vec<Due<StateOf<R>, Id>>, StoreError<StateOf<R>>>;

/// A resource's pending deadline: the move it makes by itself, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending<S: StateMachine> {
    /// The move.
    pub action: S::Action,
    /// When it is due.
    pub at: SystemTime,
    /// Why it was not made when last tried (a guard blocked it), if it was.
    pub not_made: Option<String>,
}

/// `{"action": "expire", "at": "2026-11-30T10:30:00.000Z"}`, with
/// `"not_made"` when the last attempt was not made: states and actions by
/// wire name, `at` in RFC 3339 (UTC, milliseconds).
impl<S: StateMachine> Serialize for Pending<S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("action", self.action.name())?;
        map.serialize_entry("at", &humantime::format_rfc3339_millis(self.at).to_string())?;
        if let Some(why) = &self.not_made {
            map.serialize_entry("not_made", why)?;
        }
        map.end()
    }
}

/// Deadlines whose due time is read from the resource (an invoice's own
/// `due_at`), in place of their states' declared ones: what a store's
/// `with_deadline_at` keeps.
pub(crate) struct Computed<R: Resource>(Arc<[DueFrom<R>]>);

/// One state's deadline read from the resource: `None` from `at` is no
/// deadline for that resource.
struct DueFrom<R: Resource> {
    state: StateOf<R>,
    action: <StateOf<R> as StateMachine>::Action,
    at: Arc<DueTime<R>>,
}

/// Reads a resource's due time.
type DueTime<R> = dyn Fn(&R) -> Option<SystemTime> + Send + Sync;

impl<R: Resource> Clone for DueFrom<R> {
    fn clone(&self) -> Self {
        DueFrom {
            state: self.state,
            action: self.action,
            at: Arc::clone(&self.at),
        }
    }
}

impl<R: Resource> Clone for Computed<R> {
    fn clone(&self) -> Self {
        Computed(Arc::clone(&self.0))
    }
}

impl<R: Resource> Default for Computed<R> {
    fn default() -> Self {
        Computed(Arc::new([]))
    }
}

impl<R: Resource> std::fmt::Debug for Computed<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|due| (due.state, due.action)))
            .finish()
    }
}

impl<R: Resource> Computed<R> {
    /// These with `action` made at the time `at` reads from a resource in
    /// `state`, in place of what `state` had.
    ///
    /// # Errors
    /// [`InvalidDeadline::NotAMove`] when `action` does not leave `state`.
    pub(crate) fn with(
        &self,
        state: StateOf<R>,
        action: <StateOf<R> as StateMachine>::Action,
        at: impl Fn(&R) -> Option<SystemTime> + Send + Sync + 'static,
    ) -> Result<Self, InvalidDeadline> {
        if state.apply(action).is_err() {
            return Err(InvalidDeadline::NotAMove {
                state: state.name(),
                action: action.name(),
            });
        }
        let mut computed: Vec<DueFrom<R>> = self
            .0
            .iter()
            .filter(|due| due.state != state)
            .cloned()
            .collect();
        computed.push(DueFrom {
            state,
            action,
            at: Arc::new(at),
        });
        Ok(Computed(computed.into()))
    }

    /// Whether there are any.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// When `resource`, entering its state at `now`, is due to move by
    /// itself, and by which action: its state's deadline read from it, or
    /// else `declared`, the state's deadline a span after entering it.
    pub(crate) fn due(
        &self,
        resource: &R,
        declared: Option<Deadline<StateOf<R>>>,
        now: SystemTime,
    ) -> Option<(<StateOf<R> as StateMachine>::Action, SystemTime)> {
        self.of(resource)
            .unwrap_or_else(|| declared.map(|deadline| (deadline.action(), now + deadline.after())))
    }

    /// The deadline of `resource`, in the state it is in: `None` when that
    /// state's deadline is not read from the resource, `Some(None)` when it
    /// is and the resource has no due time.
    #[allow(
        clippy::option_option,
        reason = "not computed, and computed to nothing, are told apart"
    )]
    pub(crate) fn of(
        &self,
        resource: &R,
    ) -> Option<Option<(<StateOf<R> as StateMachine>::Action, SystemTime)>> {
        let state = resource.state();
        let due = self.0.iter().find(|due| due.state == state)?;
        Some((due.at)(resource).map(|at| (due.action, at)))
    }
}

/// A deadline claimed by a scheduler: the resource, the version at which
/// the deadline was set, its move and when it was due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due<S: StateMachine, Id> {
    /// The resource.
    pub id: Id,
    /// The version the deadline was set at: the move is made only there.
    pub version: u64,
    /// The move.
    pub action: S::Action,
    /// When it was due.
    pub at: SystemTime,
    /// How many times it has been claimed, this claim included.
    pub attempt: u32,
}

/// What became of a claimed deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DueSettled {
    /// Made, or no longer pending (the resource moved on or is gone).
    Done,
    /// Not made this time (a guard blocked it, the store failed): looked
    /// at again at `at`, `why` kept for the operator.
    Later {
        /// When to look again.
        at: SystemTime,
        /// Why it was not made.
        why: String,
    },
}

/// A store that keeps deadlines: entering a state with a deadline stores
/// when it is due in the same atomic step as the move (or the creation),
/// and leaving the state clears it in the same step.
pub trait Deadlines<R: Resource>: Store<R> {
    /// The deadlines the store sets: those declared on the machine, with
    /// those given at runtime in their states' place.
    fn schedule(&self) -> Vec<Deadline<StateOf<R>>>;

    /// Whether some state's deadline is read from each resource
    /// (`with_deadline_at`): one set from now on may be due at any time, so
    /// a running [`Scheduler`] looks at least every [`Scheduler::poll`].
    fn reads_due_times(&self) -> bool;

    /// The resource's pending deadline, if its state has one.
    fn pending(
        &self,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Option<Pending<StateOf<R>>>, StoreError<StateOf<R>>>> + Send;

    /// Claims up to `limit` deadlines due at `now`, soonest first, each for
    /// `lease`: no other scheduler claims it before the lease ends.
    fn claim_due(
        &self,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> impl Future<Output = Claimed<R, Self::Id>> + Send;

    /// Settles a claimed deadline. [`DueSettled::Done`] forgets it unless
    /// the resource has moved on to a new deadline since.
    fn settle_due(
        &self,
        due: &Due<StateOf<R>, Self::Id>,
        settled: DueSettled,
    ) -> impl Future<Output = Result<(), StoreError<StateOf<R>>>> + Send;

    /// When a scheduler should look next: the soonest time a deadline is
    /// due, or a claim or a backoff of one ends.
    fn next_due(
        &self,
    ) -> impl Future<Output = Result<Option<SystemTime>, StoreError<StateOf<R>>>> + Send;
}

/// Where a scheduler reads the time and waits for it: [`SystemClock`], or
/// a [`ManualClock`] that tests move by hand.
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> SystemTime;

    /// Waits until [`now`](Clock::now) reaches `at`.
    fn sleep_until(&self, at: SystemTime) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, at: SystemTime) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that stands still until [`advance`](ManualClock::advance)d:
/// tests make a deadline due without waiting for it. It starts at the
/// system's time, so that deadlines a store set at its own time are ahead
/// of it.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<watch::Sender<SystemTime>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock at the system's time now.
    #[must_use]
    pub fn new() -> Self {
        ManualClock {
            now: Arc::new(watch::Sender::new(SystemTime::now())),
        }
    }

    /// Moves the clock `by` forward, waking what waits for the new time.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: SystemTime) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock borrowed here.
            let _ = now.wait_for(|now| *now >= at).await;
        })
    }
}

/// The caller a scheduler makes deadline moves as: the history records
/// the actor `deadline`; the declaration allowed the move, so no
/// permission stands in its way.
struct DeadlineCaller;

impl Caller for DeadlineCaller {
    fn actor(&self) -> Option<&str> {
        Some("deadline")
    }

    fn has_permission(&self, _: &str) -> bool {
        true
    }
}

/// Makes due deadlines, as ordinary moves through an [`Engine`]: its
/// guards, history (actor `deadline`), hooks, outbox events and durable
/// handlers apply. Each move is conditional on the version at which its
/// deadline was set, so a move made in between cancels the deadline and
/// none is made twice, however many schedulers run on one database.
///
/// ```
/// # use conflict_runtime::StateMachine;
/// # use conflict_runtime::store::Resource;
/// # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// # enum OrderStatus {
/// #     #[state(initial, on(pay -> Paid), after(30min, expire -> Cancelled))]
/// #     Pending,
/// #     #[state(terminal)] Paid,
/// #     #[state(terminal)] Cancelled,
/// # }
/// # #[derive(Clone, PartialEq)]
/// # struct Order { status: OrderStatus }
/// # impl Resource for Order {
/// #     type State = OrderStatus;
/// #     fn state(&self) -> OrderStatus { self.status }
/// #     fn set_state(&mut self, status: OrderStatus) { self.status = status }
/// # }
/// use std::time::Duration;
/// use conflict_runtime::moves::{Engine, ManualClock, Rules, Scheduler};
/// use conflict_runtime::store::{MemoryStore, Store};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let orders = MemoryStore::<Order>::new();
/// let order = orders.create(|_| Order { status: OrderStatus::Pending });
/// let clock = ManualClock::new();
/// let scheduler = Scheduler::new(Engine::new(orders.clone(), Rules::new())).clock(clock.clone());
///
/// assert_eq!(scheduler.run_due().await?, 0, "not due yet");
/// clock.advance(Duration::from_secs(30 * 60));
/// assert_eq!(scheduler.run_due().await?, 1);
/// assert_eq!(orders.get(order.id()).await?.value().status, OrderStatus::Cancelled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Scheduler<R: Resource, St> {
    engine: Engine<R, St>,
    clock: Arc<dyn Clock>,
    batch: usize,
    lease: Duration,
    retry: Retry,
    poll: Duration,
}

impl<R: Resource, St: Clone> Clone for Scheduler<R, St> {
    fn clone(&self) -> Self {
        Scheduler {
            engine: self.engine.clone(),
            clock: Arc::clone(&self.clock),
            batch: self.batch,
            lease: self.lease,
            retry: self.retry,
            poll: self.poll,
        }
    }
}

impl<R, St> Scheduler<R, St>
where
    R: Resource,
    St: Deadlines<R>,
    St::Id: Display,
{
    /// Makes the due deadlines of `engine`'s store under its rules, by the
    /// system's clock, 64 at a time, each claimed for 30 seconds.
    #[must_use]
    pub fn new(engine: Engine<R, St>) -> Self {
        Scheduler {
            engine,
            clock: Arc::new(SystemClock),
            batch: 64,
            lease: Duration::from_secs(30),
            retry: Retry {
                attempts: u32::MAX,
                first: Duration::from_secs(1),
                max: Duration::from_mins(10),
            },
            poll: Duration::from_secs(1),
        }
    }

    /// How often a running scheduler looks for deadlines when they are read
    /// from the resources (1 s by default): such a deadline, set due sooner
    /// than that, is made up to this late. Unused by a store whose
    /// deadlines are all a span after entering a state, which the scheduler
    /// knows the shortest of.
    #[must_use]
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(1));
        self
    }

    /// Reads the time from `clock` ([`ManualClock`] in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many deadlines one pass claims (64 by default).
    #[must_use]
    pub fn batch(mut self, deadlines: usize) -> Self {
        self.batch = deadlines.max(1);
        self
    }

    /// How long a claim holds a deadline from other schedulers (30 s by
    /// default): longer than a move takes.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// When a deadline is looked at again after a guard blocked it or the
    /// store failed (its `attempts` are not used: a deadline is never
    /// given up). By default after 1 s, doubling up to 10 minutes.
    #[must_use]
    pub fn backoff(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Makes every deadline due now, a batch at a time, and answers how
    /// many moves it made.
    ///
    /// # Errors
    /// The store's failure to claim or settle deadlines.
    pub async fn run_due(&self) -> Result<usize, StoreError<StateOf<R>>> {
        let mut made = 0;
        // Until a claim comes back empty: under another scheduler's claims
        // a batch can come back short while more is due.
        loop {
            let (claimed, moved) = self.pass().await?;
            made += moved;
            if claimed == 0 {
                return Ok(made);
            }
        }
    }

    /// One batch: how many it claimed, how many moves it made.
    async fn pass(&self) -> Result<(usize, usize), StoreError<StateOf<R>>> {
        let store = self.engine.store();
        let now = self.clock.now();
        let claimed = store.claim_due(now, self.batch, self.lease).await?;
        let mut made = 0;
        for due in &claimed {
            let settled = match self.make(due).await {
                // The move's own atomic step replaced or cleared the
                // deadline: nothing is left to settle.
                Ok(true) => {
                    made += 1;
                    continue;
                }
                Ok(false) => DueSettled::Done,
                Err(why) => DueSettled::Later {
                    at: self.clock.now() + self.retry.after(due.attempt),
                    why,
                },
            };
            store.settle_due(due, settled).await?;
        }
        Ok((claimed.len(), made))
    }

    /// Makes one deadline's move: `Ok(true)` when it moved, `Ok(false)`
    /// when it no longer applies, `Err(why)` to try again later.
    async fn make(&self, due: &Due<StateOf<R>, St::Id>) -> Result<bool, String> {
        let reason = format!("the {} deadline passed", due.action.name());
        let spec = MoveSpec::action(due.id.clone(), due.action)
            .expecting(Expected::OneOf(vec![due.version]))
            .with_reason(reason);
        match self.engine.perform(&DeadlineCaller, spec).await {
            Ok(moved) => Ok(moved.is_committed()),
            // Moved on since (its deadline cleared with the move), or gone.
            Err(error)
                if matches!(
                    error.kind(),
                    MoveErrorKind::PreconditionFailed
                        | MoveErrorKind::Illegal
                        | MoveErrorKind::NotFound
                ) =>
            {
                Ok(false)
            }
            Err(error) => {
                let why = match &error {
                    MoveError::Blocked { blockers, .. } => blockers
                        .iter()
                        .map(|blocker| format!("{}: {}", blocker.code(), blocker.message()))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                tracing::warn!(
                    id = %due.id,
                    action = due.action.name(),
                    attempt = due.attempt,
                    why,
                    "a deadline's move was not made; it will be tried again"
                );
                Err(why)
            }
        }
    }

    /// Runs passes as a task until shut down: makes what is due, then
    /// sleeps until the soonest deadline, or for at most the shortest
    /// declared deadline (a deadline set meanwhile is due no sooner), or
    /// [`poll`](Scheduler::poll) when deadlines are read from the
    /// resources, or a minute, whichever is first. A missed deadline (every
    /// scheduler was down) is made at start, in due order.
    pub fn start(self) -> Running
    where
        St: Clone,
    {
        let (stop, mut stopped) = watch::channel(false);
        let store = self.engine.store();
        let shortest = store
            .schedule()
            .iter()
            .map(Deadline::after)
            .chain(store.reads_due_times().then_some(self.poll))
            .min()
            .unwrap_or(IDLE)
            .min(IDLE);
        let task = tokio::spawn(async move {
            loop {
                if *stopped.borrow() {
                    break;
                }
                let store = self.engine.store();
                let next = match self.run_due().await {
                    Ok(_) => store.next_due().await,
                    Err(error) => Err(error),
                };
                let now = self.clock.now();
                let wake = match next {
                    Ok(Some(at)) => at.min(now + shortest),
                    Ok(None) => now + shortest,
                    Err(error) => {
                        tracing::error!(%error, "the scheduler could not read deadlines; trying again");
                        now + self.retry.first
                    }
                };
                tokio::select! {
                    () = self.clock.sleep_until(wake) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Running::new(stop, task)
    }
}

/// The longest a running scheduler sleeps.
const IDLE: Duration = Duration::from_mins(1);
