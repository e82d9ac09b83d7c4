use quote::ToTokens;

/// Collects every problem found in a derive input, so that one build reports
/// all of them instead of one per edit-compile cycle.
#[derive(Default)]
#[must_use]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    pub(crate) fn spanned(&mut self, at: impl ToTokens, message: impl std::fmt::Display) {
        // into_token_stream() first: one non-generic call instead of one per ToTokens type
        let message = paged(message.to_string());
        self.0
            .push(syn::Error::new_spanned(at.into_token_stream(), message));
    }

    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.0
            .push(syn::Error::new(span, paged(message.to_string())));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        let mut all = self.0.into_iter();
        let Some(mut first) = all.next() else {
            return Ok(());
        };
        for next in all {
            first.combine(next);
        }
        Err(first)
    }
}

/// A message that names its page in `conflict_runtime::diagnostics`, where
/// the error is explained with a wrong and a fixed declaration.
pub(crate) fn with_page(message: impl std::fmt::Display, page: &str) -> String {
    format!(
        "{message}\n  = help: see `conflict_runtime::diagnostics::{page}` for a wrong and a fixed example"
    )
}

/// Which page explains a validation message, by how the message starts. The
/// UI snapshots show every message with its page, so a reworded message that
/// lost its page shows up there.
const PAGES: &[(&str, &str)] = &[
    ("unknown state `", "unknown_state"),
    ("duplicate move", "duplicate_move"),
    ("action `{}` already leads", "action_two_targets"),
    ("terminal state `", "terminal_with_moves"),
    ("has no initial state", "no_initial_state"),
    (
        "cannot be reached from any initial state",
        "unreachable_state",
    ),
    (
        "is reachable; remove `allow_unreachable`",
        "unreachable_state",
    ),
    ("has no way out", "dead_end"),
    ("would shadow the generated method", "reserved_action_name"),
    (
        "needs a letter after any leading underscores",
        "action_name",
    ),
    ("both become `", "action_clash"),
    ("on the wire; choose another name", "action_clash"),
    ("already has; give one of them another", "wire_name_clash"),
    ("a state or action has one wire name", "one_wire_name"),
    (
        "the action enum needs a name of its own",
        "action_enum_name",
    ),
    ("`resource` must name the resource", "empty_resource"),
    ("does not support generic parameters", "generics"),
    ("does not support a where clause", "generics"),
    ("carries data", "data_on_state"),
    ("can already move to", "duplicate_move"),
];

fn paged(message: String) -> String {
    let page = PAGES.iter().find(|(part, _)| {
        // `{}` stands for any name between the fixed parts
        let mut rest = message.as_str();
        part.split("{}").all(|piece| match rest.find(piece) {
            Some(at) => {
                rest = &rest[at + piece.len()..];
                true
            }
            None => false,
        })
    });
    match page {
        Some((_, page)) => with_page(message, page),
        None => message,
    }
}
