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
        self.0
            .push(syn::Error::new_spanned(at.into_token_stream(), message));
    }

    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
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
