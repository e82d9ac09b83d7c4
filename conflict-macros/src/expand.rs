//! Model -> tokens. The model has passed validation: every target names a
//! declared state and every action has one target per state.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt as _;

use crate::ast::{self, Machine};
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
        Ok(()) => machine.expand(),
        Err(error) => machine.fallback(error),
    }
}

impl Machine<'_> {
    fn expand(&self) -> TokenStream {
        let rt = self.runtime();
        let ident = self.ident;
        let vis = self.vis;
        let action_enum = self.action_ident();
        let actions = self.actions();
        let resource = self.resource();
        let state_count = self.states.len();
        let action_count = actions.len();

        let state_paths: Vec<TokenStream> = self
            .states
            .iter()
            .map(|s| {
                let variant = s.ident;
                quote!(#ident::#variant)
            })
            .collect();
        let action_paths: Vec<TokenStream> = actions
            .iter()
            .map(|a| {
                let variant = &a.variant;
                quote!(#action_enum::#variant)
            })
            .collect();
        let state_names: Vec<&str> = self.states.iter().map(|s| s.wire.as_str()).collect();
        let action_names: Vec<&str> = actions.iter().map(|a| a.wire.as_str()).collect();
        let initial = self
            .states
            .iter()
            .zip(&state_paths)
            .filter(|(s, _)| s.attrs.initial.is_some())
            .map(|(_, path)| path);

        let targets_of = |state: &ast::State<'_>| -> Vec<usize> {
            let mut targets: Vec<usize> = Vec::new();
            for target in state.attrs.moves.iter().filter_map(|m| self.state_index(&m.target)) {
                if !targets.contains(&target) {
                    targets.push(target);
                }
            }
            targets
        };
        let allowed_rows = self.states.iter().map(|state| {
            let targets = targets_of(state);
            let row = (0..state_count).map(|to| targets.contains(&to));
            quote!([#(#row),*])
        });
        let next_rows = self.states.iter().map(|state| {
            let next = targets_of(state).into_iter().map(|i| &state_paths[i]);
            quote!(&[#(#next),*])
        });
        let action_rows = self.states.iter().map(|state| {
            let declared = state
                .attrs
                .moves
                .iter()
                .filter_map(|m| m.action.as_ref())
                .filter_map(|a| actions.iter().position(|known| known.method.unraw() == a.unraw()))
                .map(|i| &action_paths[i]);
            quote!(&[#(#declared),*])
        });
        let some_state = |index: Option<usize>| match index {
            Some(i) => {
                let path = &state_paths[i];
                quote!(::core::option::Option::Some(#path))
            }
            None => quote!(::core::option::Option::None),
        };
        let target_rows = self.states.iter().map(|state| {
            let row = actions.iter().map(|action| {
                let target = state
                    .attrs
                    .moves
                    .iter()
                    .find(|m| m.action.as_ref().is_some_and(|a| a.unraw() == action.method.unraw()))
                    .and_then(|m| self.state_index(&m.target));
                some_state(target)
            });
            quote!([#(#row),*])
        });
        // The one state an action always leads to, if every edge agrees.
        let action_targets = actions.iter().map(|action| {
            let mut targets = self
                .named_moves()
                .filter(|(_, a, _)| a.unraw() == action.method.unraw())
                .filter_map(|(_, _, target)| self.state_index(target));
            let first = targets.next();
            some_state(first.filter(|&first| targets.all(|other| other == first)))
        });

        let state_index_arms = state_paths.iter().enumerate().map(|(i, path)| quote!(#path => #i));
        let action_index_arms = action_paths.iter().enumerate().map(|(i, path)| quote!(#path => #i));
        let state_from_name = state_names.iter().zip(&state_paths).map(|(name, path)| {
            quote!(#name => ::core::option::Option::Some(#path))
        });
        let action_from_name = action_names.iter().zip(&action_paths).map(|(name, path)| {
            quote!(#name => ::core::option::Option::Some(#path))
        });

        let action_methods = actions.iter().zip(&action_paths).map(|(action, path)| {
            let method = &action.method;
            let doc = format!(
                "Applies `{}`: the state it leads to, or a [`{}`]({}) naming the allowed moves.",
                action.wire,
                "TransitionError",
                "::conflict_runtime::TransitionError",
            );
            quote! {
                #[doc = #doc]
                #[inline]
                #vis fn #method(self) -> ::core::result::Result<Self, #rt::TransitionError<Self>> {
                    <Self as #rt::StateMachine>::apply(self, #path)
                }
            }
        });

        let mermaid = self.mermaid(&actions);
        let dot = self.dot(&actions);
        let action_enum_definition = self.action_enum(&actions);
        let action_enum_name = action_enum.unraw().to_string();
        // With no actions the action enum is empty: any body taking one is `match {}`.
        let with_action = |body: TokenStream, action: TokenStream| {
            if actions.is_empty() { quote!(match #action {}) } else { body }
        };
        let display_body = with_action(quote!(formatter.pad(#rt::Action::name(*self))), quote!(*self));
        let serialize_body = with_action(
            quote!(#rt::__private::serialize_action(*self, #action_enum_name, serializer)),
            quote!(*self),
        );
        let inherent_target_body = with_action(
            quote!(__CONFLICT_TARGETS[__conflict_state_index(self)][__conflict_action_index(action)]),
            quote!(action),
        );
        let action_target_body = with_action(
            quote!(__CONFLICT_ACTION_TARGETS[__conflict_action_index(self)]),
            quote!(self),
        );

        quote! {
            #action_enum_definition

            #[allow(deprecated)]
            const _: () = {
                const fn __conflict_state_index(state: #ident) -> ::core::primitive::usize {
                    match state { #(#state_index_arms,)* }
                }

                const fn __conflict_action_index(action: #action_enum) -> ::core::primitive::usize {
                    match action { #(#action_index_arms,)* }
                }

                const __CONFLICT_ALLOWED: [[::core::primitive::bool; #state_count]; #state_count] = [#(#allowed_rows),*];
                const __CONFLICT_TARGETS: [[::core::option::Option<#ident>; #action_count]; #state_count] =
                    [#(#target_rows),*];
                const __CONFLICT_NEXT: [&[#ident]; #state_count] = [#(#next_rows),*];
                const __CONFLICT_ACTIONS: [&[#action_enum]; #state_count] = [#(#action_rows),*];
                const __CONFLICT_ACTION_TARGETS: [::core::option::Option<#ident>; #action_count] =
                    [#(#action_targets),*];

                #[automatically_derived]
                #[allow(dead_code)]
                impl #ident {
                    /// Whether the declaration allows moving from `self` to `target`.
                    /// A `const fn`, so moves can be asserted at compile time.
                    #[must_use]
                    #[inline]
                    #vis const fn can_transition_to(self, target: Self) -> ::core::primitive::bool {
                        __CONFLICT_ALLOWED[__conflict_state_index(self)][__conflict_state_index(target)]
                    }

                    /// The state `action` leads to from `self`, if `self` allows it.
                    #[must_use]
                    #[inline]
                    #vis const fn target(self, action: #action_enum) -> ::core::option::Option<Self> {
                        #inherent_target_body
                    }

                    #(#action_methods)*
                }

                #[automatically_derived]
                impl #rt::StateMachine for #ident {
                    type Action = #action_enum;
                    const RESOURCE: &'static ::core::primitive::str = #resource;
                    const STATES: &'static [Self] = &[#(#state_paths),*];
                    const NAMES: &'static [&'static ::core::primitive::str] = &[#(#state_names),*];
                    const INITIAL: &'static [Self] = &[#(#initial),*];
                    const MERMAID: &'static ::core::primitive::str = #mermaid;
                    const DOT: &'static ::core::primitive::str = #dot;

                    #[inline]
                    fn index(self) -> ::core::primitive::usize {
                        __conflict_state_index(self)
                    }

                    fn from_name(name: &::core::primitive::str) -> ::core::option::Option<Self> {
                        match name {
                            #(#state_from_name,)*
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

                #[automatically_derived]
                impl #rt::Action for #action_enum {
                    type Machine = #ident;
                    const ALL: &'static [Self] = &[#(#action_paths),*];
                    const NAMES: &'static [&'static ::core::primitive::str] = &[#(#action_names),*];

                    #[inline]
                    fn index(self) -> ::core::primitive::usize {
                        __conflict_action_index(self)
                    }

                    fn from_name(name: &::core::primitive::str) -> ::core::option::Option<Self> {
                        match name {
                            #(#action_from_name,)*
                            _ => ::core::option::Option::None,
                        }
                    }

                    #[inline]
                    fn target(self) -> ::core::option::Option<#ident> {
                        #action_target_body
                    }
                }

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
                        #rt::__private::deserialize_action(#action_enum_name, deserializer)
                    }
                }
            };
        }
    }

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
