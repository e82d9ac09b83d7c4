//! The typed model of a `#[derive(StateMachine)]` input. It borrows from the
//! `DeriveInput` so that later passes can point errors at the user's tokens.

use quote::format_ident;
use syn::ext::IdentExt as _;

use crate::attr;
use crate::case;
use crate::errors::{Errors, with_page};

pub(crate) struct Machine<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) generics: &'a syn::Generics,
    pub(crate) attrs: attr::Container,
    pub(crate) states: Vec<State<'a>>,
}

pub(crate) struct State<'a> {
    pub(crate) ident: &'a syn::Ident,
    /// The serde name: the one spelling clients see in bodies and paths.
    pub(crate) wire: String,
    pub(crate) attrs: attr::Variant,
    pub(crate) original: &'a syn::Variant,
}

/// One action of the generated action enum, in order of first declaration.
pub(crate) struct Action {
    /// As written in the first `on(...)` that names it.
    pub(crate) method: syn::Ident,
    pub(crate) variant: syn::Ident,
    pub(crate) wire: String,
}

impl<'a> Machine<'a> {
    /// A non-enum input returns early (nothing else makes sense to check);
    /// every other problem is recorded in `errors` and parsing goes on.
    pub(crate) fn from_syn(input: &'a syn::DeriveInput, errors: &mut Errors) -> syn::Result<Self> {
        let variants = match &input.data {
            syn::Data::Enum(data) => &data.variants,
            syn::Data::Struct(data) => {
                return Err(syn::Error::new(
                    data.struct_token.span,
                    with_page(
                        "#[derive(StateMachine)] supports enums only; write the states as a fieldless enum, one variant per state",
                        "not_an_enum",
                    ),
                ));
            }
            syn::Data::Union(data) => {
                return Err(syn::Error::new(
                    data.union_token.span,
                    with_page(
                        "#[derive(StateMachine)] supports enums only; write the states as a fieldless enum, one variant per state",
                        "not_an_enum",
                    ),
                ));
            }
        };
        if let Some(param) = input.generics.params.first() {
            errors.spanned(
                &input.generics,
                format!(
                    "#[derive(StateMachine)] does not support generic parameters; a state enum is a plain list of states, so remove `{}`",
                    quote::ToTokens::to_token_stream(param)
                ),
            );
        } else if let Some(where_clause) = &input.generics.where_clause {
            errors.spanned(where_clause, "#[derive(StateMachine)] does not support a where clause on the state enum; remove it");
        }
        let attrs = attr::Container::from_attrs(&input.attrs, errors);
        let states = variants
            .iter()
            .map(|variant| {
                if !matches!(variant.fields, syn::Fields::Unit) {
                    errors.spanned(
                        &variant.fields,
                        format!(
                            "state `{}` carries data; #[derive(StateMachine)] supports unit variants only: keep the data on the resource and the state as a plain variant",
                            variant.ident
                        ),
                    );
                }
                let variant_attrs = attr::Variant::from_attrs(&variant.attrs, errors);
                let wire = variant_attrs.rename.clone().unwrap_or_else(|| {
                    attrs.rename_all.apply(&variant.ident.unraw().to_string())
                });
                State {
                    ident: &variant.ident,
                    wire,
                    attrs: variant_attrs,
                    original: variant,
                }
            })
            .collect();
        Ok(Machine {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs,
            states,
        })
    }

    /// The runtime crate's path: `::conflict_runtime` unless renamed.
    pub(crate) fn runtime(&self) -> syn::Path {
        self.attrs
            .krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::conflict_runtime))
    }

    pub(crate) fn action_ident(&self) -> syn::Ident {
        self.attrs
            .action
            .clone()
            .unwrap_or_else(|| format_ident!("{}Action", self.ident))
    }

    /// `resource = "..."`, or the enum's name without a `Status`/`State`
    /// suffix in snake case: `OrderStatus` -> `order`.
    pub(crate) fn resource(&self) -> String {
        if let Some(resource) = &self.attrs.resource {
            return resource.value();
        }
        let name = self.ident.unraw().to_string();
        let stem = ["Status", "State"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|stem| !stem.is_empty()))
            .unwrap_or(&name);
        case::RenameRule::Snake.apply(stem)
    }

    /// Every action, in order of first declaration, with its variant and wire name.
    pub(crate) fn actions(&self) -> Vec<Action> {
        let mut actions: Vec<Action> = Vec::new();
        for action in self.named_moves().map(|(_, action, _)| action) {
            let name = action.unraw().to_string();
            let pascal = case::pascal_case(&name);
            // `mark_paid` and `MarkPaid` are one variant; validation reports the clash
            if actions
                .iter()
                .any(|known| known.method.unraw() == name || known.variant == pascal)
            {
                continue;
            }
            let variant = if starts_with_letter(&pascal) {
                syn::Ident::new(&pascal, action.span())
            } else {
                // `_` or `_1`: keep a valid ident; validation reports the name
                format_ident!("Action{}", actions.len(), span = action.span())
            };
            actions.push(Action {
                method: action.clone(),
                wire: self.attrs.rename_all.apply(&pascal),
                variant,
            });
        }
        actions
    }

    /// `(from, action, target)` for every named move.
    pub(crate) fn named_moves(
        &self,
    ) -> impl Iterator<Item = (&State<'a>, &syn::Ident, &syn::Ident)> {
        self.states.iter().flat_map(|state| {
            state
                .attrs
                .moves
                .iter()
                .filter_map(move |m| m.action.as_ref().map(|action| (state, action, &m.target)))
        })
    }

    pub(crate) fn state_index(&self, ident: &syn::Ident) -> Option<usize> {
        self.states.iter().position(|state| state.ident == ident)
    }
}

/// The action declared as `action` (raw or not) in an `on(...)`.
pub(crate) fn find_action<'x>(actions: &'x [Action], action: &syn::Ident) -> Option<&'x Action> {
    actions
        .iter()
        .find(|known| known.method.unraw() == action.unraw())
}

pub(crate) fn starts_with_letter(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_alphabetic)
}
