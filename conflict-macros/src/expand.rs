//! Model -> tokens. The model has passed validation: every target names a
//! declared state and every action has one target per state.
//!
//! Everything is a `const` table indexed by declaration order, so a move
//! check is one load on any traffic, predictable or not.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;

use crate::ast::{self, Machine};
use crate::attr;
use crate::errors::Errors;

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let machine = match ast::Machine::from_syn(input, &mut errors) {
        Ok(machine) => machine,
        Err(error) => return error.into_compile_error(),
    };
    machine.validate(&mut errors);
    match errors.finish() {
        // codegen never sees an invalid model
        Ok(()) => Codegen::new(&machine).expand(),
        Err(error) => machine.fallback(error),
    }
}

/// The declaration resolved to indices into `states` and `actions`.
pub(crate) struct Graph {
    /// Per state: distinct targets in declaration order.
    pub(crate) next: Vec<Vec<usize>>,
    /// Per state: its actions in declaration order.
    pub(crate) actions: Vec<Vec<usize>>,
    /// Per state, per action: where the action leads from that state.
    pub(crate) targets: Vec<Vec<Option<usize>>>,
    /// Per action: the one state it leads to from everywhere, if all agree.
    pub(crate) action_target: Vec<Option<usize>>,
}

/// A guard's path as written, without the spaces of token printing.
pub(crate) fn guard_text(guard: &syn::Path) -> String {
    let segments: Vec<String> = guard
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    let lead = if guard.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

impl Graph {
    pub(crate) fn new(machine: &Machine<'_>, actions: &[ast::Action]) -> Self {
        let action_index = |action: &syn::Ident| {
            actions
                .iter()
                .position(|known| known.method.unraw() == action.unraw())
        };
        let mut graph = Graph {
            next: vec![Vec::new(); machine.states.len()],
            actions: vec![Vec::new(); machine.states.len()],
            targets: vec![vec![None; actions.len()]; machine.states.len()],
            action_target: vec![None; actions.len()],
        };
        let mut action_targets: Vec<Vec<usize>> = vec![Vec::new(); actions.len()];
        for (from, state) in machine.states.iter().enumerate() {
            for m in &state.attrs.moves {
                let Some(to) = machine.state_index(&m.target) else {
                    continue;
                };
                if !graph.next[from].contains(&to) {
                    graph.next[from].push(to);
                }
                if let Some(action) = m.action.as_ref().and_then(action_index) {
                    graph.actions[from].push(action);
                    graph.targets[from][action] = Some(to);
                    action_targets[action].push(to);
                }
            }
        }
        for (unique, targets) in graph.action_target.iter_mut().zip(action_targets) {
            *unique = targets
                .first()
                .copied()
                .filter(|&first| targets.iter().all(|&t| t == first));
        }
        graph
    }
}

struct Codegen<'m, 'a> {
    machine: &'m Machine<'a>,
    actions: Vec<ast::Action>,
    graph: Graph,
    rt: syn::Path,
    action_enum: syn::Ident,
    state_paths: Vec<TokenStream>,
    action_paths: Vec<TokenStream>,
}

impl<'m, 'a> Codegen<'m, 'a> {
    fn new(machine: &'m Machine<'a>) -> Self {
        let actions = machine.actions();
        let graph = Graph::new(machine, &actions);
        let ident = machine.ident;
        let action_enum = machine.action_ident();
        let state_paths = machine
            .states
            .iter()
            .map(|s| {
                let variant = s.ident;
                quote!(#ident::#variant)
            })
            .collect();
        let action_paths = actions
            .iter()
            .map(|a| {
                let variant = &a.variant;
                quote!(#action_enum::#variant)
            })
            .collect();
        Codegen {
            machine,
            actions,
            graph,
            rt: machine.runtime(),
            action_enum,
            state_paths,
            action_paths,
        }
    }

    fn expand(&self) -> TokenStream {
        let action_enum_definition = self.machine.action_enum(&self.actions);
        let tables = self.tables();
        let inherent = self.inherent_impl();
        let machine = self.machine_impl();
        let action = self.action_impl();
        let action_traits = self.action_traits();
        let guard_fns = self.guard_fns();
        let rt = &self.rt;
        let ident = self.machine.ident;
        quote! {
            #action_enum_definition

            #[allow(deprecated)]
            const _: () = {
                #tables
                #guard_fns
                #inherent
                #machine
                #action
                #action_traits
                #rt::__private::sql_state!(#ident);
            };
        }
    }

    /// With no actions the action enum is empty: a body that takes one is `match {}`.
    fn with_action(&self, body: TokenStream, action: &TokenStream) -> TokenStream {
        if self.actions.is_empty() {
            quote!(match #action {})
        } else {
            body
        }
    }

    fn tables(&self) -> TokenStream {
        let ident = self.machine.ident;
        let action_enum = &self.action_enum;
        let state_count = self.state_paths.len();
        let action_count = self.action_paths.len();
        let state_index_arms = self
            .state_paths
            .iter()
            .enumerate()
            .map(|(i, path)| quote!(#path => #i));
        let action_index_arms = self
            .action_paths
            .iter()
            .enumerate()
            .map(|(i, path)| quote!(#path => #i));
        // One bit per target: a 200-state machine is 800 words, not 40 000 bools.
        let words = state_count.div_ceil(64).max(1);
        let allowed_rows = self.graph.next.iter().map(|next| {
            let mut row = vec![0_u64; words];
            for &to in next {
                row[to / 64] |= 1 << (to % 64);
            }
            quote!([#(#row),*])
        });
        let next_rows = self.graph.next.iter().map(|next| {
            let next = next.iter().map(|&i| &self.state_paths[i]);
            quote!(&[#(#next),*])
        });
        let action_rows = self.graph.actions.iter().map(|actions| {
            let actions = actions.iter().map(|&i| &self.action_paths[i]);
            quote!(&[#(#actions),*])
        });
        // `__CONFLICT_TO[i]` is `Some(STATES[i])`, and `None` past the end: a
        // short name for each entry of the (states x actions) table.
        let to = |index: Option<usize>| {
            let index = index.unwrap_or(state_count);
            quote!(__CONFLICT_TO[#index])
        };
        let target_rows = self.graph.targets.iter().map(|row| {
            let row = row.iter().map(|&target| to(target));
            quote!([#(#row),*])
        });
        let action_targets = self.graph.action_target.iter().map(|&target| to(target));
        let some_states = &self.state_paths;
        let to_count = state_count + 1;
        quote! {
            const fn __conflict_state_index(state: #ident) -> ::core::primitive::usize {
                match state { #(#state_index_arms,)* }
            }

            const fn __conflict_action_index(action: #action_enum) -> ::core::primitive::usize {
                match action { #(#action_index_arms,)* }
            }

            const __CONFLICT_ALLOWED: [[::core::primitive::u64; #words]; #state_count] =
                [#(#allowed_rows),*];
            const __CONFLICT_TO: [::core::option::Option<#ident>; #to_count] = [
                #(::core::option::Option::Some(#some_states),)*
                ::core::option::Option::None
            ];
            const __CONFLICT_TARGETS: [[::core::option::Option<#ident>; #action_count]; #state_count] =
                [#(#target_rows),*];
            const __CONFLICT_NEXT: [&[#ident]; #state_count] = [#(#next_rows),*];
            const __CONFLICT_ACTIONS: [&[#action_enum]; #state_count] = [#(#action_rows),*];
            const __CONFLICT_ACTION_TARGETS: [::core::option::Option<#ident>; #action_count] =
                [#(#action_targets),*];
        }
    }

    /// `(from, action, guard)` of every guarded move, in declaration order.
    fn guarded_moves(&self) -> impl Iterator<Item = (usize, usize, &attr::Guard)> {
        let actions = &self.actions;
        self.machine
            .states
            .iter()
            .enumerate()
            .flat_map(move |(from, state)| {
                state.attrs.moves.iter().filter_map(move |m| {
                    let guard = m.guard.as_ref()?;
                    let action = ast::find_action(actions, m.action.as_ref()?)?;
                    let action = actions.iter().position(|a| a.method == action.method)?;
                    Some((from, action, guard))
                })
            })
    }

    /// One function per guard that takes the resource as `Any`: the state
    /// enum does not know the resource type, the guard function's
    /// parameters do, and `judge_now` / `judge_later` infer it from there
    /// (and whether the guard sees who asks).
    fn guard_fns(&self) -> TokenStream {
        let rt = &self.rt;
        let fns = self.guarded_moves().enumerate().map(|(i, (_, _, guard))| {
            let name = format_ident!("__conflict_guard_{}", i);
            let path = &guard.path;
            let judge = if guard.is_async {
                quote!(judge_later)
            } else {
                quote!(judge_now)
            };
            // Spanned at the guard, so a wrong shape or return type is
            // reported there.
            let call = quote_spanned!(path.span()=> #rt::guard::#judge(&#path, judging));
            quote! {
                fn #name(judging: #rt::guard::Judging<'_>) -> #rt::guard::Judged {
                    #call
                }
            }
        });
        quote!(#(#fns)*)
    }

    fn guards_const(&self) -> TokenStream {
        let rt = &self.rt;
        let guards: Vec<TokenStream> = self
            .guarded_moves()
            .enumerate()
            .map(|(i, (from, action, guard))| {
                let name = format_ident!("__conflict_guard_{}", i);
                let from = &self.state_paths[from];
                let action = &self.action_paths[action];
                let text = guard_text(&guard.path);
                quote!(#rt::guard::DeclaredGuard::new(#from, #action, #text, #name))
            })
            .collect();
        if guards.is_empty() {
            return TokenStream::new();
        }
        quote! {
            const GUARDS: &'static [#rt::guard::DeclaredGuard<Self>] = &[#(#guards),*];
        }
    }

    fn deadlines_const(&self) -> TokenStream {
        let rt = &self.rt;
        let deadlines: Vec<TokenStream> = self
            .machine
            .states
            .iter()
            .enumerate()
            .filter_map(|(i, state)| {
                let deadline = state.attrs.deadline.as_ref()?;
                let seconds = deadline.seconds?;
                let action = self
                    .actions
                    .iter()
                    .position(|known| known.method.unraw() == deadline.action.unraw())?;
                let from = &self.state_paths[i];
                let action = &self.action_paths[action];
                Some(quote!(#rt::deadline::Deadline::new(#from, #action, #seconds)))
            })
            .collect();
        if deadlines.is_empty() {
            return TokenStream::new();
        }
        quote! {
            const DEADLINES: &'static [#rt::deadline::Deadline<Self>] = &[#(#deadlines),*];
        }
    }

    fn inherent_impl(&self) -> TokenStream {
        let Codegen {
            rt, action_enum, ..
        } = self;
        let ident = self.machine.ident;
        let vis = self.machine.vis;
        let target_body = self.with_action(
            quote!(
                __CONFLICT_TARGETS[__conflict_state_index(self)][__conflict_action_index(action)]
            ),
            &quote!(action),
        );
        let action_methods = self.actions.iter().zip(&self.action_paths).map(|(action, path)| {
            let method = &action.method;
            let doc = format!(
                "Applies `{}`: the state it leads to from `self`, or a `TransitionError` naming the allowed moves.",
                action.wire
            );
            quote! {
                #[doc = #doc]
                #[inline]
                #vis fn #method(self) -> ::core::result::Result<Self, #rt::TransitionError<Self>> {
                    <Self as #rt::StateMachine>::apply(self, #path)
                }
            }
        });
        quote! {
            #[automatically_derived]
            #[allow(dead_code)]
            impl #ident {
                /// Whether the declaration allows moving from `self` to `target`.
                /// A `const fn`, so moves can be asserted at compile time.
                #[must_use]
                #[inline]
                #vis const fn can_transition_to(self, target: Self) -> ::core::primitive::bool {
                    let __conflict_to = __conflict_state_index(target);
                    let __conflict_word = __CONFLICT_ALLOWED[__conflict_state_index(self)][__conflict_to / 64];
                    (__conflict_word >> (__conflict_to % 64)) & 1 == 1
                }

                /// The state `action` leads to from `self`, if `self` allows it.
                #[must_use]
                #[inline]
                #vis const fn target(self, action: #action_enum) -> ::core::option::Option<Self> {
                    #target_body
                }

                #(#action_methods)*
            }
        }
    }

    fn machine_impl(&self) -> TokenStream {
        let Codegen {
            rt,
            action_enum,
            state_paths,
            ..
        } = self;
        let machine = self.machine;
        let ident = machine.ident;
        let resource = machine.resource();
        let names = machine.states.iter().map(|s| s.wire.as_str());
        let initial = machine
            .states
            .iter()
            .zip(state_paths)
            .filter(|(s, _)| s.attrs.initial.is_some())
            .map(|(_, path)| path);
        let from_name = machine.states.iter().zip(state_paths).map(|(state, path)| {
            let name = &state.wire;
            quote!(#name => ::core::option::Option::Some(#path))
        });
        // Old names, read as the states they name: aliases, then removed states.
        let aliases: Vec<(&syn::LitStr, &TokenStream)> = machine
            .states
            .iter()
            .zip(state_paths)
            .flat_map(|(state, path)| state.attrs.aliases.iter().map(move |alias| (alias, path)))
            .chain(machine.attrs.removed.iter().filter_map(|removed| {
                let index = machine.state_index(&removed.target)?;
                Some((&removed.name, &state_paths[index]))
            }))
            .collect();
        let alias_arms = aliases
            .iter()
            .map(|(alias, path)| quote!(#alias => ::core::option::Option::Some(#path)));
        let aliases = aliases.iter().map(|(alias, path)| quote!((#alias, #path)));
        let mermaid = machine.mermaid(&self.actions);
        let dot = machine.dot(&self.actions);
        let guards = self.guards_const();
        let deadlines = self.deadlines_const();
        quote! {
            #[automatically_derived]
            impl #rt::StateMachine for #ident {
                type Action = #action_enum;
                const RESOURCE: &'static ::core::primitive::str = #resource;
                const STATES: &'static [Self] = &[#(#state_paths),*];
                const NAMES: &'static [&'static ::core::primitive::str] = &[#(#names),*];
                const INITIAL: &'static [Self] = &[#(#initial),*];
                const MERMAID: &'static ::core::primitive::str = #mermaid;
                const DOT: &'static ::core::primitive::str = #dot;
                const ALIASES: &'static [(&'static ::core::primitive::str, Self)] = &[#(#aliases),*];
                #guards
                #deadlines

                #[inline]
                fn index(self) -> ::core::primitive::usize {
                    __conflict_state_index(self)
                }

                fn from_name(name: &::core::primitive::str) -> ::core::option::Option<Self> {
                    match name {
                        #(#from_name,)*
                        #(#alias_arms,)*
                        _ => ::core::option::Option::None,
                    }
                }

                #[inline]
                fn next_states(self) -> &'static [Self] {
                    __CONFLICT_NEXT[__conflict_state_index(self)]
                }

                #[inline]
                fn actions(self) -> &'static [#action_enum] {
                    __CONFLICT_ACTIONS[__conflict_state_index(self)]
                }

                #[inline]
                fn can_transition_to(self, target: Self) -> ::core::primitive::bool {
                    #ident::can_transition_to(self, target)
                }

                #[inline]
                fn target(self, action: #action_enum) -> ::core::option::Option<Self> {
                    #ident::target(self, action)
                }
            }
        }
    }

    fn action_impl(&self) -> TokenStream {
        let Codegen {
            rt,
            action_enum,
            action_paths,
            ..
        } = self;
        let ident = self.machine.ident;
        let names = self.actions.iter().map(|a| a.wire.as_str());
        let from_name = self.actions.iter().zip(action_paths).map(|(action, path)| {
            let name = &action.wire;
            quote!(#name => ::core::option::Option::Some(#path))
        });
        let aliases: Vec<(&syn::LitStr, &TokenStream)> = self
            .machine
            .attrs
            .action_aliases
            .iter()
            .filter_map(|(action, alias)| {
                let index = self
                    .actions
                    .iter()
                    .position(|known| known.method.unraw() == action.unraw())?;
                Some((alias, &action_paths[index]))
            })
            .collect();
        let alias_pairs = aliases.iter().map(|(alias, path)| quote!((#alias, #path)));
        let alias_arms = aliases
            .iter()
            .map(|(alias, path)| quote!(#alias => ::core::option::Option::Some(#path)));
        let target_body = self.with_action(
            quote!(__CONFLICT_ACTION_TARGETS[__conflict_action_index(self)]),
            &quote!(self),
        );
        quote! {
            #[automatically_derived]
            impl #rt::Action for #action_enum {
                type Machine = #ident;
                const ALL: &'static [Self] = &[#(#action_paths),*];
                const NAMES: &'static [&'static ::core::primitive::str] = &[#(#names),*];
                const ALIASES: &'static [(&'static ::core::primitive::str, Self)] = &[#(#alias_pairs),*];

                #[inline]
                fn index(self) -> ::core::primitive::usize {
                    __conflict_action_index(self)
                }

                fn from_name(name: &::core::primitive::str) -> ::core::option::Option<Self> {
                    match name {
                        #(#from_name,)*
                        #(#alias_arms,)*
                        _ => ::core::option::Option::None,
                    }
                }

                #[inline]
                fn target(self) -> ::core::option::Option<#ident> {
                    #target_body
                }
            }
        }
    }

    /// `Display`, `FromStr` and serde for the action enum, all through the
    /// action's wire name.
    fn action_traits(&self) -> TokenStream {
        let Codegen {
            rt, action_enum, ..
        } = self;
        let enum_name = action_enum.unraw().to_string();
        let display_body = self.with_action(
            quote!(formatter.pad(#rt::Action::name(*self))),
            &quote!(*self),
        );
        let serialize_body = self.with_action(
            quote!(#rt::__private::serialize_action(*self, #enum_name, serializer)),
            &quote!(*self),
        );
        quote! {
            #[automatically_derived]
            impl ::core::fmt::Display for #action_enum {
                fn fmt(&self, formatter: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    #display_body
                }
            }

            #[automatically_derived]
            impl ::core::str::FromStr for #action_enum {
                type Err = #rt::UnknownName;

                fn from_str(name: &::core::primitive::str) -> ::core::result::Result<Self, Self::Err> {
                    #rt::__private::parse_action(name)
                }
            }

            #[automatically_derived]
            impl #rt::__private::serde::Serialize for #action_enum {
                fn serialize<__S>(&self, serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
                where
                    __S: #rt::__private::serde::Serializer,
                {
                    #serialize_body
                }
            }

            #[automatically_derived]
            impl<'de> #rt::__private::serde::Deserialize<'de> for #action_enum {
                fn deserialize<__D>(deserializer: __D) -> ::core::result::Result<Self, __D::Error>
                where
                    __D: #rt::__private::serde::Deserializer<'de>,
                {
                    #rt::__private::deserialize_action(#enum_name, deserializer)
                }
            }
        }
    }
}

impl Machine<'_> {
    /// The action enum's definition, shared with the fallback so that user
    /// code naming actions keeps compiling while a declaration has errors.
    pub(crate) fn action_enum(&self, actions: &[ast::Action]) -> TokenStream {
        let ident = self.ident;
        let vis = self.vis;
        let action_enum = self.action_ident();
        let resource = self.resource();
        let action_variants = actions.iter().map(|action| {
            let variant = &action.variant;
            let edges: Vec<String> = self
                .named_moves()
                .filter(|(_, a, _)| a.unraw() == action.method.unraw())
                .filter_map(|(from, _, target)| {
                    self.state_index(target)
                        .map(|t| format!("`{}` → `{}`", from.wire, self.states[t].wire))
                })
                .collect();
            let doc = format!("`{}`: {}.", action.wire, edges.join(", "));
            quote!(#[doc = #doc] #variant)
        });
        let action_enum_doc = format!(
            "The actions of [`{ident}`], generated by `#[derive(StateMachine)]`; each names a move of a {resource}."
        );
        quote! {
            #[doc = #action_enum_doc]
            #[derive(
                ::core::clone::Clone,
                ::core::marker::Copy,
                ::core::fmt::Debug,
                ::core::cmp::PartialEq,
                ::core::cmp::Eq,
                ::core::hash::Hash,
                ::core::cmp::PartialOrd,
                ::core::cmp::Ord,
            )]
            #vis enum #action_enum {
                #(#action_variants,)*
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::{TokenStream, TokenTree};

    /// A machine of `states` states in a chain, with `moves` named moves
    /// spread over 20 action names; states no move reaches are kept.
    fn machine(states: usize, moves: usize) -> syn::DeriveInput {
        let mut on: Vec<Vec<String>> = vec![Vec::new(); states];
        let mut reached = vec![false; states];
        reached[0] = true;
        let mut k = 0;
        let mut added = 0;
        while added < moves {
            let from = k % (states - 1);
            let to = (from + 1 + k / (states - 1)) % states;
            let action = format!("act{}", k % 20);
            if to != from
                && !on[from]
                    .iter()
                    .any(|m| m.starts_with(&format!("{action} ")))
            {
                on[from].push(format!("{action} -> S{to}"));
                reached[to] = true;
                added += 1;
            }
            k += 1;
        }
        let variants: Vec<String> = (0..states)
            .map(|s| {
                let mut flags = Vec::new();
                if s == 0 {
                    flags.push("initial".to_owned());
                }
                if on[s].is_empty() {
                    flags.push("terminal".to_owned());
                } else {
                    flags.push(format!("on({})", on[s].join(", ")));
                }
                if !reached[s] {
                    flags.push("allow_unreachable".to_owned());
                }
                format!("#[state({})] S{s}", flags.join(", "))
            })
            .collect();
        syn::parse_str(&format!("enum Big {{ {} }}", variants.join(", "))).expect("valid enum")
    }

    fn count(tokens: TokenStream) -> usize {
        tokens
            .into_iter()
            .map(|tree| match tree {
                TokenTree::Group(group) => 1 + count(group.stream()),
                _ => 1,
            })
            .sum()
    }

    fn expanded(moves: usize) -> usize {
        let output = super::derive(&machine(200, moves));
        assert!(
            !output.to_string().contains("compile_error"),
            "{moves} moves: invalid machine"
        );
        count(output)
    }

    /// Run with `--nocapture` to see the sizes (benches/run.sh does).
    #[test]
    fn expansion_grows_linearly_with_moves() {
        let sizes: Vec<(usize, usize)> = [10, 100, 1000]
            .into_iter()
            .map(|m| (m, expanded(m)))
            .collect();
        for (moves, tokens) in &sizes {
            println!("EXPANSION moves={moves} tokens={tokens}");
        }
        let per_move = |(m1, t1): (usize, usize), (m2, t2): (usize, usize)| (t2 - t1) / (m2 - m1);
        let early = per_move(sizes[0], sizes[1]);
        let late = per_move(sizes[1], sizes[2]);
        assert!(
            late <= early * 2,
            "cost per move grew from {early} to {late} tokens"
        );
    }
}
