//! What the table alone cannot say: guards that need the resource,
//! permissions that need the caller, typed input per action and hooks that
//! run after a commit.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::history::Note;
use super::input::{ActionInput, InputFn, parse_input};
use super::store::Resource;
use crate::guard::{self, GuardOutcome, Verdict};
use crate::machine::StateMachine;

/// Who is calling: the identity the app's authentication established,
/// taken from the request by an extractor the app provides.
///
/// ```
/// use conflict_runtime::moves::Caller;
///
/// struct User {
///     name: String,
///     permissions: Vec<String>,
/// }
///
/// impl Caller for User {
///     fn actor(&self) -> Option<&str> {
///         Some(&self.name)
///     }
///
///     fn has_permission(&self, permission: &str) -> bool {
///         self.permissions.iter().any(|p| p == permission)
///     }
/// }
/// ```
pub trait Caller: Send + Sync {
    /// Who the caller is, as the history should record it.
    fn actor(&self) -> Option<&str>;

    /// Whether the caller holds `permission`.
    fn has_permission(&self, permission: &str) -> bool;
}

/// A caller with no identity and no permissions: moves that require a
/// permission are refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct Anonymous;

impl Caller for Anonymous {
    fn actor(&self) -> Option<&str> {
        None
    }

    fn has_permission(&self, _: &str) -> bool {
        false
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An error a hook reports.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

enum GuardFn<R> {
    Sync(Arc<dyn Fn(&R) -> Verdict + Send + Sync>),
    Async(Arc<dyn Fn(R) -> BoxFuture<Verdict> + Send + Sync>),
    /// Sees the caller and the input beside the resource.
    Asking(Arc<AskingGuard<R>>),
    /// Sees the caller's identity and the input, owned, beside the resource.
    AskingAsync(Arc<dyn Fn(R, Asked) -> BoxFuture<Verdict> + Send + Sync>),
}

impl<R> Clone for GuardFn<R> {
    fn clone(&self) -> Self {
        match self {
            GuardFn::Sync(f) => GuardFn::Sync(Arc::clone(f)),
            GuardFn::Async(f) => GuardFn::Async(Arc::clone(f)),
            GuardFn::Asking(f) => GuardFn::Asking(Arc::clone(f)),
            GuardFn::AskingAsync(f) => GuardFn::AskingAsync(Arc::clone(f)),
        }
    }
}

/// A guard of the resource and of who asks, with what input.
type AskingGuard<R> = dyn Fn(&R, &Asking<'_>) -> Verdict + Send + Sync;

/// Who asks for a move, and with what input, as a guard of
/// [`Rules::guard_with`] sees them. Listing what a caller may do
/// ([`Rules::options`], `GET .../transitions`) has no input: such a guard
/// then judges the move without one.
#[derive(Clone, Copy)]
pub struct Asking<'a> {
    caller: &'a dyn Caller,
    input: Option<&'a Value>,
}

impl<'a> Asking<'a> {
    /// `caller` asking, with the move's JSON `input` if it has one.
    #[must_use]
    pub fn new(caller: &'a dyn Caller, input: Option<&'a Value>) -> Self {
        Asking { caller, input }
    }

    /// The caller.
    #[must_use]
    pub fn caller(&self) -> &'a dyn Caller {
        self.caller
    }

    /// The move's input as JSON, when it has one.
    #[must_use]
    pub fn input(&self) -> Option<&'a Value> {
        self.input
    }

    /// The move's input as `T` (the action's input type), when it has one
    /// that reads as `T`.
    #[must_use]
    pub fn input_as<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(self.input?).ok()
    }

    /// What an async guard sees of it, owned.
    pub(crate) fn asked(&self) -> Asked {
        Asked {
            actor: self.caller.actor().map(str::to_owned),
            input: self.input.cloned(),
        }
    }
}

impl fmt::Debug for Asking<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asking")
            .field("actor", &self.caller.actor())
            .field("input", &self.input)
            .finish()
    }
}

/// What an async guard of [`Rules::guard_with_async`] sees beside the
/// resource: the caller's identity and the move's input, owned, since the
/// guard's future outlives the request's borrow of the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Asked {
    /// Who asks ([`Caller::actor`]).
    pub actor: Option<String>,
    /// The move's input as JSON, when it has one.
    pub input: Option<Value>,
}

impl Asked {
    /// The move's input as `T`, when it has one that reads as `T`.
    #[must_use]
    pub fn input_as<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(self.input.as_ref()?).ok()
    }
}

/// A permission that depends on the resource: whether `caller` may make a
/// move of this resource (the order's own customer).
type ScopedPermission<R> = Arc<dyn Fn(&R, &dyn Caller) -> bool + Send + Sync>;

/// Which moves a guard or hook is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope<S: StateMachine> {
    Action(S::Action),
    Entering(S),
    Leaving(S),
}

impl<S: StateMachine> Scope<S> {
    fn covers(self, from: S, action: Option<S::Action>, to: S) -> bool {
        match self {
            Scope::Action(scoped) => action == Some(scoped),
            Scope::Entering(state) => to == state,
            Scope::Leaving(state) => from == state,
        }
    }
}

/// A committed move, as a hook receives it.
#[derive(Clone, Debug)]
pub struct Committed<R: Resource> {
    /// The resource's id, as shown in paths.
    pub id: String,
    /// The version the move created.
    pub version: u64,
    /// The state it left.
    pub from: R::State,
    /// The state it entered.
    pub to: R::State,
    /// The action, when the move was requested by action.
    pub action: Option<<R::State as StateMachine>::Action>,
    /// The resource as committed.
    pub resource: R,
    /// Who, why and with what input.
    pub note: Note,
}

type HookFn<R> = Arc<dyn Fn(Committed<R>) -> BoxFuture<Result<(), HookError>> + Send + Sync>;

struct Hook<R: Resource> {
    scope: Scope<R::State>,
    name: &'static str,
    run: HookFn<R>,
}

impl<R: Resource> Clone for Hook<R> {
    fn clone(&self) -> Self {
        Hook {
            scope: self.scope,
            name: self.name,
            run: Arc::clone(&self.run),
        }
    }
}

struct Inner<R: Resource> {
    guards: Vec<(Scope<R::State>, GuardFn<R>)>,
    permissions: Vec<(<R::State as StateMachine>::Action, Cow<'static, str>)>,
    scoped_permissions: Vec<(<R::State as StateMachine>::Action, ScopedPermission<R>)>,
    inputs: Vec<(<R::State as StateMachine>::Action, InputFn<R>)>,
    /// The name of each action's input type (`Shipment`), as schemas name it.
    input_names: Vec<(<R::State as StateMachine>::Action, &'static str)>,
    hooks: Vec<Hook<R>>,
}

impl<R: Resource> Clone for Inner<R> {
    fn clone(&self) -> Self {
        Inner {
            guards: self.guards.clone(),
            permissions: self.permissions.clone(),
            scoped_permissions: self.scoped_permissions.clone(),
            inputs: self.inputs.clone(),
            input_names: self.input_names.clone(),
            hooks: self.hooks.clone(),
        }
    }
}

impl<R: Resource> Default for Inner<R> {
    fn default() -> Self {
        Inner {
            guards: Vec::new(),
            permissions: Vec::new(),
            scoped_permissions: Vec::new(),
            inputs: Vec::new(),
            input_names: Vec::new(),
            hooks: Vec::new(),
        }
    }
}

/// The rules of a resource's moves beyond the table: guards, permissions,
/// typed input and after-commit hooks, registered at startup and shared by
/// every request (cloning is cheap).
///
/// Guards declared on the derive always apply, with or without `Rules`.
///
/// ```
/// use conflict_runtime::guard::Blocker;
/// use conflict_runtime::moves::Rules;
/// # use conflict_runtime::{StateMachine, store::Resource};
/// # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// # enum DoorState { #[state(initial, on(open -> Open))] Closed, #[state(on(close -> Closed))] Open }
/// # #[derive(Clone, PartialEq)]
/// # struct Door { state: DoorState, blocked: bool }
/// # impl Resource for Door {
/// #     type State = DoorState;
/// #     fn state(&self) -> DoorState { self.state }
/// #     fn set_state(&mut self, state: DoorState) { self.state = state }
/// # }
///
/// let rules = Rules::<Door>::new()
///     .guard(DoorStateAction::Open, |door: &Door| {
///         if door.blocked {
///             return Err(Blocker::new("blocked", "something is in the way"));
///         }
///         Ok(())
///     })
///     .permission(DoorStateAction::Open, "doors:open")
///     .after(DoorStateAction::Open, "log_opening", |moved| async move {
///         println!("door {} opened", moved.id);
///         Ok(())
///     });
/// ```
pub struct Rules<R: Resource> {
    // `None` until a rule is added: empty rules cost no allocation, so a
    // caller without rules can make them per move.
    inner: Option<Arc<Inner<R>>>,
}

impl<R: Resource> Clone for Rules<R> {
    fn clone(&self) -> Self {
        Rules {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Resource> Default for Rules<R> {
    fn default() -> Self {
        Rules::new()
    }
}

impl<R: Resource> fmt::Debug for Rules<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("guards", &self.guards().len())
            .field("permissions", &self.permissions())
            .field("inputs", &self.inputs().len())
            .field(
                "hooks",
                &self.hooks().iter().map(|h| h.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

type StateOf<R> = <R as Resource>::State;
type ActionOf<R> = <<R as Resource>::State as StateMachine>::Action;

impl<R: Resource> Rules<R> {
    /// No rules beyond the table and the derive's guards.
    #[must_use]
    pub fn new() -> Self {
        Rules { inner: None }
    }

    fn edit(mut self, change: impl FnOnce(&mut Inner<R>)) -> Self {
        change(Arc::make_mut(self.inner.get_or_insert_default()));
        self
    }

    fn guards(&self) -> &[(Scope<StateOf<R>>, GuardFn<R>)] {
        self.inner.as_deref().map_or(&[], |inner| &inner.guards)
    }

    fn permissions(&self) -> &[(ActionOf<R>, Cow<'static, str>)] {
        self.inner
            .as_deref()
            .map_or(&[], |inner| &inner.permissions)
    }

    fn scoped_permissions(&self) -> &[(ActionOf<R>, ScopedPermission<R>)] {
        self.inner
            .as_deref()
            .map_or(&[], |inner| &inner.scoped_permissions)
    }

    fn inputs(&self) -> &[(ActionOf<R>, InputFn<R>)] {
        self.inner.as_deref().map_or(&[], |inner| &inner.inputs)
    }

    fn hooks(&self) -> &[Hook<R>] {
        self.inner.as_deref().map_or(&[], |inner| &inner.hooks)
    }

    /// Guards `action` with a function of the resource. It returns
    /// `Result<(), Blocker>`, `Result<(), Vec<Blocker>>` or a [`Verdict`];
    /// every guard of a move runs, and their blockers add up.
    #[must_use]
    pub fn guard<O, F>(self, action: ActionOf<R>, guard: F) -> Self
    where
        O: GuardOutcome,
        F: Fn(&R) -> O + Send + Sync + 'static,
    {
        self.edit(|inner| {
            inner
                .guards
                .push((Scope::Action(action), sync_guard(guard)));
        })
    }

    /// Guards every move into `state`, by any action or by target.
    #[must_use]
    pub fn guard_entering<O, F>(self, state: StateOf<R>, guard: F) -> Self
    where
        O: GuardOutcome,
        F: Fn(&R) -> O + Send + Sync + 'static,
    {
        self.edit(|inner| {
            inner
                .guards
                .push((Scope::Entering(state), sync_guard(guard)));
        })
    }

    /// Guards `action` with an async function of the resource (a credit
    /// check over the network). It receives a copy of the resource.
    #[must_use]
    pub fn guard_async<O, Fut, F>(self, action: ActionOf<R>, guard: F) -> Self
    where
        O: GuardOutcome,
        Fut: Future<Output = O> + Send + 'static,
        F: Fn(R) -> Fut + Send + Sync + 'static,
    {
        let guard = GuardFn::Async(Arc::new(move |resource: R| -> BoxFuture<Verdict> {
            let outcome = guard(resource);
            Box::pin(async move {
                let mut verdict = Verdict::allow();
                verdict.add(outcome.await);
                verdict
            })
        }));
        self.edit(|inner| inner.guards.push((Scope::Action(action), guard)))
    }

    /// Guards `action` with a function of the resource and of who asks,
    /// with what input ([`Asking`]): "only the customer who placed the
    /// order may cancel it, and with a reason longer than ten characters".
    /// It returns what [`guard`](Rules::guard)'s do, and its blockers are
    /// the move's like any guard's.
    #[must_use]
    pub fn guard_with<O, F>(self, action: ActionOf<R>, guard: F) -> Self
    where
        O: GuardOutcome,
        F: Fn(&R, &Asking<'_>) -> O + Send + Sync + 'static,
    {
        let guard = GuardFn::Asking(Arc::new(move |resource: &R, asking: &Asking<'_>| {
            let mut verdict = Verdict::allow();
            verdict.add(guard(resource, asking));
            verdict
        }));
        self.edit(|inner| inner.guards.push((Scope::Action(action), guard)))
    }

    /// Guards `action` with an async function of a copy of the resource and
    /// of who asks, with what input ([`Asked`]).
    #[must_use]
    pub fn guard_with_async<O, Fut, F>(self, action: ActionOf<R>, guard: F) -> Self
    where
        O: GuardOutcome,
        Fut: Future<Output = O> + Send + 'static,
        F: Fn(R, Asked) -> Fut + Send + Sync + 'static,
    {
        let guard = GuardFn::AskingAsync(Arc::new(
            move |resource: R, asked: Asked| -> BoxFuture<Verdict> {
                let outcome = guard(resource, asked);
                Box::pin(async move {
                    let mut verdict = Verdict::allow();
                    verdict.add(outcome.await);
                    verdict
                })
            },
        ));
        self.edit(|inner| inner.guards.push((Scope::Action(action), guard)))
    }

    /// Lets `caller` request `action` on a resource only when `allowed`
    /// says so of that resource (the order's own customer): refused with
    /// 403 otherwise, and left out of what the caller is told it may do.
    /// Beside [`permission`](Rules::permission), which does not need the
    /// resource.
    #[must_use]
    pub fn permission_with<F>(self, action: ActionOf<R>, allowed: F) -> Self
    where
        F: Fn(&R, &dyn Caller) -> bool + Send + Sync + 'static,
    {
        let allowed: ScopedPermission<R> = Arc::new(allowed);
        self.edit(|inner| inner.scoped_permissions.push((action, allowed)))
    }

    /// Requires the caller to hold `permission` for `action`: refused with
    /// 403 otherwise, and left out of what the caller is told it may do.
    #[must_use]
    pub fn permission(self, action: ActionOf<R>, permission: impl Into<Cow<'static, str>>) -> Self {
        let permission = permission.into();
        self.edit(|inner| inner.permissions.push((action, permission)))
    }

    /// Gives `action` the typed body `T`: malformed JSON is a 400, a body
    /// that does not fit `T` or fails [`ActionInput::validate`] a 422 naming
    /// the field. A later call for the same action replaces an earlier one.
    #[must_use]
    pub fn input<T: ActionInput<R>>(self, action: ActionOf<R>) -> Self {
        let parse: InputFn<R> = Arc::new(parse_input::<R, T>);
        self.edit(|inner| {
            inner.inputs.retain(|(a, _)| *a != action);
            inner.inputs.push((action, parse));
            inner.input_names.retain(|(a, _)| *a != action);
            inner.input_names.push((action, short_type_name::<T>()));
        })
    }

    /// Runs `hook` once after each committed move by `action`. A hook that
    /// fails (or panics) does not undo the move: the failure is logged and
    /// named in the response's `Conflict-Hook-Failed` header.
    #[must_use]
    pub fn after<Fut, F>(self, action: ActionOf<R>, name: &'static str, hook: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Committed<R>) -> Fut + Send + Sync + 'static,
    {
        self.hook(Scope::Action(action), name, hook)
    }

    /// Runs `hook` once after each committed move into `state`.
    #[must_use]
    pub fn on_enter<Fut, F>(self, state: StateOf<R>, name: &'static str, hook: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Committed<R>) -> Fut + Send + Sync + 'static,
    {
        self.hook(Scope::Entering(state), name, hook)
    }

    /// Runs `hook` once after each committed move out of `state`.
    #[must_use]
    pub fn on_leave<Fut, F>(self, state: StateOf<R>, name: &'static str, hook: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Committed<R>) -> Fut + Send + Sync + 'static,
    {
        self.hook(Scope::Leaving(state), name, hook)
    }

    fn hook<Fut, F>(self, scope: Scope<StateOf<R>>, name: &'static str, hook: F) -> Self
    where
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
        F: Fn(Committed<R>) -> Fut + Send + Sync + 'static,
    {
        let run: HookFn<R> = Arc::new(move |committed| Box::pin(hook(committed)));
        self.edit(|inner| inner.hooks.push(Hook { scope, name, run }))
    }

    /// Whether `caller` may request `action`.
    pub fn permits(&self, caller: &dyn Caller, action: ActionOf<R>) -> bool {
        self.permissions()
            .iter()
            .filter(|(scoped, _)| *scoped == action)
            .all(|(_, permission)| caller.has_permission(permission))
    }

    /// Whether `caller` may request `action` on `resource`: the static
    /// permissions and those that depend on the resource.
    pub fn permits_on(&self, resource: &R, caller: &dyn Caller, action: ActionOf<R>) -> bool {
        self.permits(caller, action)
            && self
                .scoped_permissions()
                .iter()
                .filter(|(scoped, _)| *scoped == action)
                .all(|(_, allowed)| allowed(resource, caller))
    }

    /// Whether a permission of `action` depends on the resource.
    pub(crate) fn scopes_permission(&self, action: ActionOf<R>) -> bool {
        self.scoped_permissions()
            .iter()
            .any(|(scoped, _)| *scoped == action)
    }

    /// What the guards say of the move by `action` (or by target, when
    /// `action` is `None`) from `resource`'s state to `to`, asked by no one
    /// with no input (guards that see the caller judge an anonymous one):
    /// see [`verdict_for`](Rules::verdict_for).
    pub async fn verdict(
        &self,
        resource: &R,
        action: Option<ActionOf<R>>,
        to: StateOf<R>,
    ) -> Verdict {
        self.verdict_for(resource, action, to, &Asking::new(&Anonymous, None))
            .await
    }

    /// What the guards say of the move by `action` (or by target, when
    /// `action` is `None`) from `resource`'s state to `to`, as `asking`
    /// asks it: the derive's guards first, then the registered ones in
    /// order.
    pub async fn verdict_for(
        &self,
        resource: &R,
        action: Option<ActionOf<R>>,
        to: StateOf<R>,
        asking: &Asking<'_>,
    ) -> Verdict {
        let from = resource.state();
        let mut verdict = Verdict::allow();
        if let Some(action) = action {
            guard::check_declared(from, action, resource, asking, &mut verdict).await;
        }
        for (scope, guard) in self.guards() {
            if !scope.covers(from, action, to) {
                continue;
            }
            match guard {
                GuardFn::Sync(check) => verdict.add(check(resource)),
                GuardFn::Async(check) => verdict.add(check(resource.clone()).await),
                GuardFn::Asking(check) => verdict.add(check(resource, asking)),
                GuardFn::AskingAsync(check) => {
                    verdict.add(check(resource.clone(), asking.asked()).await);
                }
            }
        }
        verdict
    }

    /// Whether any guard could apply to this move (so that its decision
    /// depends on the resource, not only on the state).
    pub(crate) fn is_guarded(
        &self,
        from: StateOf<R>,
        action: Option<ActionOf<R>>,
        to: StateOf<R>,
    ) -> bool {
        action.is_some_and(|action| {
            <StateOf<R> as StateMachine>::GUARDS
                .iter()
                .any(|g| g.from() == from && g.action() == action)
        }) || self
            .guards()
            .iter()
            .any(|(scope, _)| scope.covers(from, action, to))
    }

    /// Whether a guard of this move sees who asks and with what input: only
    /// then is an input no action type reads worth reading for it.
    pub(crate) fn asks(
        &self,
        from: StateOf<R>,
        action: Option<ActionOf<R>>,
        to: StateOf<R>,
    ) -> bool {
        let declared = action.is_some_and(|action| {
            <StateOf<R> as StateMachine>::GUARDS
                .iter()
                .any(|g| g.from() == from && g.action() == action && g.asks())
        });
        declared
            || self.guards().iter().any(|(scope, guard)| {
                matches!(guard, GuardFn::Asking(_) | GuardFn::AskingAsync(_))
                    && scope.covers(from, action, to)
            })
    }

    /// Whether any guard, input or hook could apply to a move by `action`,
    /// from any state: without one, the move needs no read before the
    /// store's atomic step decides it.
    pub(crate) fn concerns(&self, action: ActionOf<R>) -> bool {
        let by_action = |scope: Scope<StateOf<R>>| {
            <StateOf<R> as StateMachine>::STATES.iter().any(|&from| {
                from.target(action)
                    .is_some_and(|to| scope.covers(from, Some(action), to))
            })
        };
        <StateOf<R> as StateMachine>::GUARDS
            .iter()
            .any(|guard| guard.action() == action)
            || self.input_of(action).is_some()
            || self.scopes_permission(action)
            || self.guards().iter().any(|(scope, _)| by_action(*scope))
            || self.hooks().iter().any(|hook| by_action(hook.scope))
    }

    /// Whether any guard or permission can narrow what the table allows;
    /// without one, the table's lists are the answer and cost nothing more.
    pub(crate) fn narrows(&self) -> bool {
        !<StateOf<R> as StateMachine>::GUARDS.is_empty()
            || !self.guards().is_empty()
            || !self.permissions().is_empty()
            || !self.scoped_permissions().is_empty()
    }

    /// The name of `action`'s input type (`Shipment` for
    /// `input::<Shipment>`), if it takes one: how an OpenAPI document
    /// usually names its schema.
    pub fn input_name(&self, action: ActionOf<R>) -> Option<&'static str> {
        self.inner
            .as_deref()?
            .input_names
            .iter()
            .find(|(scoped, _)| *scoped == action)
            .map(|(_, name)| *name)
    }

    pub(crate) fn input_of(&self, action: ActionOf<R>) -> Option<&InputFn<R>> {
        self.inputs()
            .iter()
            .find(|(scoped, _)| *scoped == action)
            .map(|(_, parse)| parse)
    }

    /// Every move the table allows from `resource`'s state that `caller`
    /// may request, with what the guards say of each, in declaration order.
    pub async fn options(&self, resource: &R, caller: &dyn Caller) -> Vec<MoveOption<StateOf<R>>> {
        let from = resource.state();
        let mut options = Vec::new();
        for &action in from.actions() {
            let Some(to) = from.target(action) else {
                continue;
            };
            if !self.permits_on(resource, caller, action) {
                continue;
            }
            let asking = Asking::new(caller, None);
            let verdict = self.verdict_for(resource, Some(action), to, &asking).await;
            options.push(MoveOption {
                action: Some(action),
                to,
                verdict,
            });
        }
        // States reached only by `to(...)`, with no action: their guards are
        // the ones for entering them.
        for &to in from.next_states() {
            if from.actions().iter().any(|&a| from.target(a) == Some(to)) {
                continue;
            }
            let asking = Asking::new(caller, None);
            let verdict = self.verdict_for(resource, None, to, &asking).await;
            options.push(MoveOption {
                action: None,
                to,
                verdict,
            });
        }
        options
    }

    /// Whether any hook runs after this move.
    pub(crate) fn hooks_for(
        &self,
        from: StateOf<R>,
        action: Option<ActionOf<R>>,
        to: StateOf<R>,
    ) -> bool {
        self.hooks()
            .iter()
            .any(|hook| hook.scope.covers(from, action, to))
    }

    /// Runs the hooks of a committed move, each as its own task, and names
    /// the ones that failed or panicked.
    pub(crate) async fn run_hooks(&self, committed: &Committed<R>) -> Vec<&'static str> {
        let mut failed = Vec::new();
        for hook in self.hooks() {
            if !hook
                .scope
                .covers(committed.from, committed.action, committed.to)
            {
                continue;
            }
            let future = (hook.run)(committed.clone());
            let outcome = match tokio::runtime::Handle::try_current() {
                Ok(runtime) => match runtime.spawn(future).await {
                    Ok(outcome) => outcome,
                    Err(join) => Err(HookError::from(format!("the hook panicked: {join}"))),
                },
                // Outside a runtime there is nothing to spawn on: run inline.
                Err(_) => future.await,
            };
            if let Err(error) = outcome {
                tracing::error!(
                    hook = hook.name,
                    resource = <StateOf<R> as StateMachine>::RESOURCE,
                    id = %committed.id,
                    version = committed.version,
                    error = %error,
                    "after-commit hook failed; the move stays committed"
                );
                failed.push(hook.name);
            }
        }
        failed
    }
}

/// `Shipment` for `my_app::orders::Shipment`; generics are kept
/// (`Page<Order>`).
pub(crate) fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let path = full.split('<').next().unwrap_or(full);
    let start = path.rfind("::").map_or(0, |at| at + 2);
    &full[start..]
}

fn sync_guard<R, O, F>(guard: F) -> GuardFn<R>
where
    O: GuardOutcome,
    F: Fn(&R) -> O + Send + Sync + 'static,
{
    GuardFn::Sync(Arc::new(move |resource: &R| {
        let mut verdict = Verdict::allow();
        verdict.add(guard(resource));
        verdict
    }))
}

/// One move a caller may request now, and what its guards say.
#[derive(Clone, Debug, PartialEq)]
pub struct MoveOption<S: StateMachine> {
    /// The action, or `None` for a move by target only.
    pub action: Option<S::Action>,
    /// Where it leads.
    pub to: S,
    /// What the guards say.
    pub verdict: Verdict,
}
