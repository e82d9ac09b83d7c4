//! Rules over the whole declaration. Nothing here generates code; every
//! problem is recorded, so one build lists them all.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use syn::ext::IdentExt as _;

use crate::ast::{Machine, starts_with_letter};
use crate::attr::VARIANT;
use crate::case::pascal_case;
use crate::errors::{Errors, with_page};

/// Method names of the `StateMachine` trait and of the generated inherent
/// impl. An action method with one of these names would shadow it on method
/// call syntax, so `status.apply(action)` would silently mean something else.
pub(crate) const RESERVED_ACTION_NAMES: &[&str] = &[
    "actions",
    "apply",
    "can_apply",
    "can_transition_to",
    "deadline",
    "from_name",
    "index",
    "is_initial",
    "is_terminal",
    "name",
    "next_states",
    "target",
    "transition_to",
];

impl Machine<'_> {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        self.check_wire_names(errors);
        let all_targets_known = self.check_targets(errors);
        self.check_moves_per_state(errors);
        self.check_terminal(errors);
        // The graph is only known when every attribute parsed and every target
        // exists; otherwise its checks would report follow-on errors.
        let complete = !self.states.iter().any(|s| s.attrs.incomplete);
        if complete {
            let initial = self.check_initial(errors);
            if all_targets_known && !initial.is_empty() {
                self.check_reachability(initial, errors);
            }
        }
        self.check_actions(errors);
        self.check_deadlines(errors);
        self.check_aliases(errors);
    }

    /// Old names read as current ones: each is read as one state (or one
    /// action), and none is a name the machine declares, so that a stored
    /// or requested name means one thing.
    fn check_aliases(&self, errors: &mut Errors) {
        let mut states: BTreeMap<String, String> = self
            .states
            .iter()
            .map(|state| (state.wire.clone(), state.ident.to_string()))
            .collect();
        for state in &self.states {
            for alias in &state.attrs.aliases {
                check_alias(
                    &mut states,
                    alias,
                    &state.ident.to_string(),
                    "state",
                    errors,
                );
            }
        }
        for removed in &self.attrs.removed {
            if self.state_index(&removed.target).is_none() {
                errors.spanned(
                    &removed.target,
                    self.unknown_state_message(&removed.target, "`removed(...)`"),
                );
                continue;
            }
            let target = removed.target.to_string();
            check_alias(&mut states, &removed.name, &target, "state", errors);
        }
        let actions = self.actions();
        let mut names: BTreeMap<String, String> = actions
            .iter()
            .map(|action| (action.wire.clone(), action.method.unraw().to_string()))
            .collect();
        for (action, alias) in &self.attrs.action_aliases {
            if crate::ast::find_action(&actions, action).is_none() {
                let suggestion = crate::suggest::did_you_mean(
                    &action.unraw().to_string(),
                    names.values().map(String::as_str),
                );
                errors.spanned(
                    action,
                    with_page(
                        format!(
                            "`{action}` is not an action of this machine; `action_alias({action} = \"...\")` names a declared action, read under an old name too{suggestion}"
                        ),
                        "alias_unknown_action",
                    ),
                );
                continue;
            }
            check_alias(
                &mut names,
                alias,
                &action.unraw().to_string(),
                "action",
                errors,
            );
        }
    }

    /// A deadline leaves its state by one of the state's own moves, and a
    /// terminal state has none to leave by.
    fn check_deadlines(&self, errors: &mut Errors) {
        for state in &self.states {
            let Some(deadline) = &state.attrs.deadline else {
                continue;
            };
            if state.attrs.terminal.is_some() {
                errors.at(
                    deadline.span,
                    with_page(
                        format!(
                            "a deadline on `{}` would never fire: it is a terminal state, which nothing leaves; remove `after(...)`, or `terminal`",
                            state.ident
                        ),
                        "deadline_on_terminal",
                    ),
                );
                continue;
            }
            let declared = state.attrs.moves.iter().any(|m| {
                m.action
                    .as_ref()
                    .is_some_and(|action| action.unraw() == deadline.action.unraw())
            });
            if !declared {
                let own: Vec<String> = state
                    .attrs
                    .moves
                    .iter()
                    .filter_map(|m| Some(m.action.as_ref()?.unraw().to_string()))
                    .collect();
                let suggestion = crate::suggest::did_you_mean(
                    &deadline.action.unraw().to_string(),
                    own.iter().map(String::as_str),
                );
                errors.spanned(
                    &deadline.action,
                    with_page(
                        format!(
                            "`{action}` is not a move of `{state}`; a deadline makes one of the state's own moves: declare it here, `after(..., {action} -> State)`, or in `on({action} -> State)`{suggestion}",
                            action = deadline.action,
                            state = state.ident
                        ),
                        "deadline_action",
                    ),
                );
            }
        }
    }

    // Two variants spelled the same on the wire (`#[serde(rename)]`) could not
    // be told apart in a request body.
    fn check_wire_names(&self, errors: &mut Errors) {
        let mut seen = BTreeMap::new();
        for state in &self.states {
            if let Some(first) = seen.insert(state.wire.as_str(), state.ident) {
                errors.spanned(
                    state.ident,
                    format!(
                        "state `{}` has the wire name \"{}\", which `{first}` already has; give one of them another #[serde(rename = \"...\")]",
                        state.ident, state.wire
                    ),
                );
            }
        }
    }

    /// Whether every target names a declared state.
    fn check_targets(&self, errors: &mut Errors) -> bool {
        let mut all_known = true;
        for state in &self.states {
            for target in state.attrs.moves.iter().map(|m| &m.target) {
                if self.state_index(target).is_none() {
                    errors.spanned(target, self.unknown_state_message(target, "a move target"));
                    all_known = false;
                }
            }
        }
        all_known
    }

    /// `target` names no state; `place` says where it was written.
    fn unknown_state_message(&self, target: &syn::Ident, place: &str) -> String {
        let written = target.unraw().to_string();
        let declared: Vec<String> = self
            .states
            .iter()
            .map(|s| format!("`{}`", s.ident))
            .collect();
        // The wire name written for the state (`paid` for `Paid`) counts too.
        let suggestion = self
            .states
            .iter()
            .find(|s| s.wire == written)
            .map(|s| s.ident.to_string())
            .or_else(|| {
                let idents: Vec<String> = self
                    .states
                    .iter()
                    .map(|s| s.ident.unraw().to_string())
                    .collect();
                crate::suggest::closest(&written, idents.iter().map(String::as_str))
                    .map(str::to_owned)
            });
        let mut message = format!("unknown state `{written}` in {place}");
        if let Some(state) = suggestion {
            let _ = write!(message, "; did you mean `{state}`?");
        }
        let _ = write!(message, " (declared states: {})", declared.join(", "));
        message
    }

    fn check_moves_per_state(&self, errors: &mut Errors) {
        for state in &self.states {
            let moves = &state.attrs.moves;
            for (i, this) in moves.iter().enumerate() {
                let earlier = &moves[..i];
                match &this.action {
                    Some(action) => {
                        let same_action = earlier.iter().find(|m| {
                            m.action
                                .as_ref()
                                .is_some_and(|a| a.unraw() == action.unraw())
                        });
                        if let Some(first) = same_action {
                            if first.target == this.target {
                                errors.spanned(
                                    action,
                                    format!("duplicate move `{action} -> {}` from `{}`; remove this one", this.target, state.ident),
                                );
                            } else {
                                errors.spanned(
                                    action,
                                    format!(
                                        "action `{action}` already leads from `{}` to `{}`; one action leads from a state to one target, so rename this action or remove it",
                                        state.ident, first.target
                                    ),
                                );
                            }
                        }
                    }
                    None => {
                        if let Some(first) = earlier.iter().find(|m| m.target == this.target) {
                            let message = match &first.action {
                                Some(action) => format!(
                                    "`{}` can already move to `{}` through `{action}`; remove `to({})`",
                                    state.ident, this.target, this.target
                                ),
                                None => format!(
                                    "duplicate move `to({})` from `{}`; remove this one",
                                    this.target, state.ident
                                ),
                            };
                            errors.spanned(&this.target, message);
                        }
                    }
                }
                // A bare move declared before a named one to the same target.
                if let Some(action) = &this.action
                    && earlier
                        .iter()
                        .any(|m| m.action.is_none() && m.target == this.target)
                {
                    errors.spanned(
                        action,
                        format!(
                            "`{}` can already move to `{}` through `to({})`; remove that bare move, `{action}` covers it",
                            state.ident, this.target, this.target
                        ),
                    );
                }
            }
        }
    }

    fn check_terminal(&self, errors: &mut Errors) {
        for state in &self.states {
            match (state.attrs.terminal, state.attrs.moves.is_empty()) {
                (Some(terminal), false) => errors.at(
                    terminal,
                    format!(
                        "terminal state `{}` declares moves; a terminal state has no way out, so remove `terminal` or its moves",
                        state.ident
                    ),
                ),
                (None, true) if !state.attrs.incomplete => errors.spanned(
                    state.ident,
                    format!(
                        "state `{}` has no way out; declare its moves with #[{VARIANT}(on(action -> State))] or #[{VARIANT}(to(State))], or mark it #[{VARIANT}(terminal)]",
                        state.ident
                    ),
                ),
                _ => {}
            }
        }
    }

    /// The indices of the initial states; none is an error.
    fn check_initial(&self, errors: &mut Errors) -> Vec<usize> {
        let initial: Vec<usize> = (0..self.states.len())
            .filter(|&i| self.states[i].attrs.initial.is_some())
            .collect();
        if initial.is_empty() {
            errors.spanned(
                self.ident,
                format!(
                    "`{}` has no initial state; mark the state(s) a new resource starts in with #[{VARIANT}(initial)]",
                    self.ident
                ),
            );
        }
        initial
    }

    fn check_reachability(&self, initial: Vec<usize>, errors: &mut Errors) {
        let mut reached = vec![false; self.states.len()];
        let mut queue: VecDeque<usize> = initial.into_iter().collect();
        while let Some(i) = queue.pop_front() {
            if std::mem::replace(&mut reached[i], true) {
                continue;
            }
            let targets = self.states[i]
                .attrs
                .moves
                .iter()
                .filter_map(|m| self.state_index(&m.target));
            queue.extend(targets.filter(|&t| !reached[t]));
        }
        for (state, reached) in self.states.iter().zip(reached) {
            match (reached, state.attrs.allow_unreachable) {
                (false, None) => errors.spanned(
                    state.ident,
                    format!(
                        "state `{}` cannot be reached from any initial state; add a move into it, mark it #[{VARIANT}(initial)], or keep it deliberately with #[{VARIANT}(allow_unreachable)]",
                        state.ident
                    ),
                ),
                (true, Some(allow)) => errors.at(
                    allow,
                    format!("state `{}` is reachable; remove `allow_unreachable`", state.ident),
                ),
                _ => {}
            }
        }
    }

    fn check_actions(&self, errors: &mut Errors) {
        let action_enum = self.action_ident();
        if action_enum == *self.ident {
            let at = self.attrs.action.as_ref().unwrap_or(self.ident);
            errors.spanned(
                at,
                "the action enum needs a name of its own; choose another `action = ...`",
            );
        }
        let mut variants: BTreeMap<String, &syn::Ident> = BTreeMap::new();
        let mut wires: BTreeMap<String, &syn::Ident> = BTreeMap::new();
        for (_, action, _) in self.named_moves() {
            let name = action.unraw().to_string();
            if RESERVED_ACTION_NAMES.contains(&name.as_str()) {
                errors.spanned(
                    action,
                    format!("action `{name}` would shadow the generated method `{name}`; choose another name for this action"),
                );
                continue;
            }
            let pascal = pascal_case(&name);
            if !starts_with_letter(&pascal) {
                errors.spanned(action, format!("action `{name}` needs a letter after any leading underscores, as in `pay` or `mark_paid`"));
                continue;
            }
            match variants.get(&pascal) {
                Some(first) if first.unraw() != action.unraw() => errors.spanned(
                    action,
                    format!("actions `{first}` and `{action}` both become `{action_enum}::{pascal}`; spell them the same or choose another name"),
                ),
                Some(_) => {}
                None => {
                    let wire = self.attrs.rename_all.apply(&pascal);
                    if let Some(first) = wires.insert(wire.clone(), action) {
                        errors.spanned(
                            action,
                            format!("actions `{first}` and `{action}` are both spelled \"{wire}\" on the wire; choose another name"),
                        );
                    }
                    variants.insert(pascal, action);
                }
            }
        }
    }
}

/// Records `alias` as read as `owner` (a state or an action, as `what`
/// says), unless it is empty or already a name of another.
fn check_alias(
    names: &mut BTreeMap<String, String>,
    alias: &syn::LitStr,
    owner: &str,
    what: &str,
    errors: &mut Errors,
) {
    let name = alias.value();
    if name.trim().is_empty() {
        errors.spanned(
            alias,
            with_page(
                format!(
                    "an alias is an old name of the {what}; write it, as in `alias = \"shipped\"`"
                ),
                "alias_taken",
            ),
        );
        return;
    }
    if let Some(taken) = names.get(&name) {
        let message = if taken == owner {
            format!(
                "\"{name}\" is already the name of {what} `{owner}`; an alias is an old name it no longer has: remove this one"
            )
        } else {
            format!(
                "\"{name}\" already names {what} `{taken}`, so it cannot also be read as `{owner}`; remove one of them"
            )
        };
        errors.spanned(alias, with_page(message, "alias_taken"));
        return;
    }
    names.insert(name, owner.to_owned());
}

#[cfg(test)]
mod tests {
    use crate::ast::Machine;
    use crate::errors::Errors;

    fn messages(input: &syn::DeriveInput) -> Vec<String> {
        let mut errors = Errors::default();
        let machine = Machine::from_syn(input, &mut errors).expect("an enum");
        machine.validate(&mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_valid_machine_has_no_errors() {
        let input = syn::parse_quote! {
            enum Order {
                #[state(initial, on(pay -> Paid, cancel -> Cancelled))]
                Pending,
                #[state(on(cancel -> Cancelled), to(Pending))]
                Paid,
                #[state(terminal)]
                Cancelled,
            }
        };
        assert_eq!(messages(&input), Vec::<String>::new());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let input = syn::parse_quote! {
            #[state_machine(bogus)]
            enum Order {
                #[state(on(pay -> Payd, pay -> Pending))]
                Pending,
                #[state(terminal, to(Pending))]
                Paid,
                Stuck,
            }
        };
        let messages = messages(&input);
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert!(messages[0].starts_with("unknown key `bogus` in #[state_machine(...)]"));
        assert!(
            messages[1].starts_with("unknown state `Payd` in a move target; did you mean `Paid`?")
        );
        assert!(messages[2].starts_with("action `pay` already leads from `Pending` to `Payd`"));
        assert!(messages[3].starts_with("terminal state `Paid` declares moves"));
        assert!(messages[4].starts_with("state `Stuck` has no way out"));
        assert!(messages[5].starts_with("`Order` has no initial state"));
    }

    #[test]
    fn unreachable_states_are_found_through_the_graph() {
        let input = syn::parse_quote! {
            enum Flow {
                #[state(initial, to(B))]
                A,
                #[state(to(A))]
                B,
                #[state(to(D))]
                C,
                #[state(to(C))]
                D,
            }
        };
        let messages = messages(&input);
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].starts_with("state `C` cannot be reached"));
        assert!(messages[1].starts_with("state `D` cannot be reached"));
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let input = syn::parse_quote! {
            enum Order {
                #[state(initial, to(Shiped), to(Xyz), to(cancelled))]
                Pending,
                #[state(terminal)]
                Shipped,
                #[state(terminal)]
                Cancelled,
            }
        };
        let messages = messages(&input);
        assert!(
            messages[0].contains("did you mean `Shipped`?"),
            "{}",
            messages[0]
        );
        assert!(!messages[1].contains("did you mean"), "{}", messages[1]);
        assert!(
            messages[2].contains("did you mean `Cancelled`?"),
            "{}",
            messages[2]
        );
    }

    #[test]
    fn resource_names_drop_status_and_state_suffixes() {
        let resource = |input: syn::DeriveInput| {
            let mut errors = Errors::default();
            let name = Machine::from_syn(&input, &mut errors)
                .expect("an enum")
                .resource();
            errors.finish().expect("no errors");
            name
        };
        assert_eq!(
            resource(syn::parse_quote!(
                enum OrderStatus {}
            )),
            "order"
        );
        assert_eq!(
            resource(syn::parse_quote!(
                enum TicketState {}
            )),
            "ticket"
        );
        assert_eq!(
            resource(syn::parse_quote!(
                enum Status {}
            )),
            "status"
        );
        assert_eq!(
            resource(syn::parse_quote!(
                enum PullRequest {}
            )),
            "pull_request"
        );
        assert_eq!(
            resource(syn::parse_quote!(
                #[state_machine(resource = "job")]
                enum Queue {}
            )),
            "job"
        );
    }
}
