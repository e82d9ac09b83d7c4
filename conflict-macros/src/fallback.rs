//! What a declaration with errors still expands to, next to the errors: the
//! action enum and stub impls, so that user code naming the machine does not
//! add a wall of follow-on errors to the real ones.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt as _;

use crate::ast::Machine;
use crate::valid::RESERVED_ACTION_NAMES;

impl Machine<'_> {
    pub(crate) fn fallback(&self, error: syn::Error) -> TokenStream {
        let error = error.into_compile_error();
        if self.action_ident() == *self.ident {
            // An action enum named like the state enum would only clash with it.
            return error;
        }
        let actions = self.actions();
        let action_enum_definition = self.action_enum(&actions);
        if !self.generics.params.is_empty()
            || self
                .states
                .iter()
                .any(|s| !matches!(s.original.fields, syn::Fields::Unit))
        {
            // The trait's bounds cannot hold for these shapes; stubs would only add errors.
            return quote!(#error #action_enum_definition);
        }
        let rt = self.runtime();
        let ident = self.ident;
        let vis = self.vis;
        let action_enum = self.action_ident();
        let methods = actions
            .iter()
            .filter(|a| !RESERVED_ACTION_NAMES.contains(&a.method.unraw().to_string().as_str()))
            .map(|action| {
                let method = &action.method;
                quote! {
                    #vis fn #method(self) -> ::core::result::Result<Self, #rt::TransitionError<Self>> {
                        ::core::unreachable!()
                    }
                }
            });
        quote! {
            #error
            #action_enum_definition

            #[allow(deprecated)]
            const _: () = {
                #[automatically_derived]
                #[allow(dead_code, clippy::unused_self)]
                impl #ident {
                    #vis const fn can_transition_to(self, _: Self) -> ::core::primitive::bool {
                        ::core::unreachable!()
                    }

                    #vis const fn target(self, _: #action_enum) -> ::core::option::Option<Self> {
                        ::core::unreachable!()
                    }

                    #(#methods)*
                }

                #[automatically_derived]
                impl #rt::StateMachine for #ident {
                    type Action = #action_enum;
                    const RESOURCE: &'static ::core::primitive::str = "";
                    const STATES: &'static [Self] = &[];
                    const NAMES: &'static [&'static ::core::primitive::str] = &[];
                    const INITIAL: &'static [Self] = &[];
                    const MERMAID: &'static ::core::primitive::str = "";
                    const DOT: &'static ::core::primitive::str = "";

                    fn index(self) -> ::core::primitive::usize {
                        ::core::unreachable!()
                    }

                    fn from_name(_: &::core::primitive::str) -> ::core::option::Option<Self> {
                        ::core::unreachable!()
                    }

                    fn next_states(self) -> &'static [Self] {
                        ::core::unreachable!()
                    }

                    fn actions(self) -> &'static [#action_enum] {
                        ::core::unreachable!()
                    }

                    fn can_transition_to(self, _: Self) -> ::core::primitive::bool {
                        ::core::unreachable!()
                    }

                    fn target(self, _: #action_enum) -> ::core::option::Option<Self> {
                        ::core::unreachable!()
                    }
                }

                #[automatically_derived]
                impl #rt::Action for #action_enum {
                    type Machine = #ident;
                    const ALL: &'static [Self] = &[];
                    const NAMES: &'static [&'static ::core::primitive::str] = &[];

                    fn index(self) -> ::core::primitive::usize {
                        ::core::unreachable!()
                    }

                    fn from_name(_: &::core::primitive::str) -> ::core::option::Option<Self> {
                        ::core::unreachable!()
                    }

                    fn target(self) -> ::core::option::Option<#ident> {
                        ::core::unreachable!()
                    }
                }
            };
        }
    }
}
