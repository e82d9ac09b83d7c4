//! What `#[derive(StateMachine)]` does with a declaration, as a library that
//! runs without a compiler: for the fuzzer and the property tests.
//!
//! The modules are the macro crate's own source files, compiled here a
//! second time (as `serde_derive_internals` does with `serde_derive`), so
//! what is tested is exactly what the derive runs.

use std::str::FromStr;

use proc_macro2::TokenStream;

// The derive's own modules; parts only the proc-macro entry point uses are
// unused here.
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/ast.rs"]
mod ast;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/attr.rs"]
mod attr;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/bounded.rs"]
mod bounded;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/case.rs"]
mod case;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/diagram.rs"]
mod diagram;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/errors.rs"]
mod errors;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/expand.rs"]
mod expand;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/fallback.rs"]
mod fallback;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/suggest.rs"]
mod suggest;
#[allow(dead_code, unreachable_pub, clippy::all, clippy::pedantic)]
#[path = "../../conflict-macros/src/valid.rs"]
mod valid;

/// What the derive made of a declaration.
#[derive(Clone, Debug)]
pub enum Derived {
    /// The text is not a token stream, or not an item the derive can be on:
    /// rustc would have refused it before the derive ran.
    NotAnItem,
    /// The expansion of a valid declaration.
    Expanded(TokenStream),
    /// The compile errors of an invalid one (their messages), with the
    /// fallback code that keeps the user's own code free of follow-on errors.
    Refused {
        /// Each error's message.
        messages: Vec<String>,
        /// The whole output: the errors and the fallback.
        output: TokenStream,
    },
}

/// Runs the derive on the source text of an item, as rustc would.
#[must_use]
pub fn derive(source: &str) -> Derived {
    let Ok(tokens) = TokenStream::from_str(source) else {
        return Derived::NotAnItem;
    };
    let Ok(input) = syn::parse2::<syn::DeriveInput>(bounded::bounded(tokens)) else {
        return Derived::NotAnItem;
    };
    let output = expand::derive(&input);
    let messages = compile_errors(&output);
    if messages.is_empty() {
        Derived::Expanded(output)
    } else {
        Derived::Refused { messages, output }
    }
}

/// The messages of the `compile_error!` invocations in `output`.
fn compile_errors(output: &TokenStream) -> Vec<String> {
    let mut messages = Vec::new();
    let mut tokens = output.clone().into_iter().peekable();
    while let Some(token) = tokens.next() {
        let proc_macro2::TokenTree::Ident(ident) = &token else {
            if let proc_macro2::TokenTree::Group(group) = &token {
                messages.extend(compile_errors(&group.stream()));
            }
            continue;
        };
        if ident != "compile_error" {
            continue;
        }
        // `compile_error ! ("message")` or `compile_error ! { "message" }`
        let _bang = tokens.next();
        if let Some(proc_macro2::TokenTree::Group(group)) = tokens.next()
            && let Some(proc_macro2::TokenTree::Literal(literal)) =
                group.stream().into_iter().next()
            && let Ok(syn::Lit::Str(text)) = syn::parse_str::<syn::Lit>(&literal.to_string())
        {
            messages.push(text.value());
        }
    }
    messages
}

/// A valid declaration's transition table, by index: what the generated
/// `const` tables hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// State variants, in declaration order.
    pub states: Vec<String>,
    /// Action methods, in order of first declaration.
    pub actions: Vec<String>,
    /// Per state: the distinct states it may move to, in declaration order.
    pub next: Vec<Vec<usize>>,
    /// Per state, per action: where the action leads from that state.
    pub targets: Vec<Vec<Option<usize>>>,
    /// Per state: whether it is initial.
    pub initial: Vec<bool>,
}

/// The table of a valid declaration, or the messages of its compile errors.
///
/// # Errors
/// The error messages, when the source is not an item or the declaration is
/// invalid.
pub fn table(source: &str) -> Result<Table, Vec<String>> {
    let tokens = TokenStream::from_str(source).map_err(|e| vec![e.to_string()])?;
    let input = syn::parse2::<syn::DeriveInput>(bounded::bounded(tokens))
        .map_err(|e| vec![e.to_string()])?;
    let mut errors = errors::Errors::default();
    let machine = ast::Machine::from_syn(&input, &mut errors).map_err(|e| messages(&e))?;
    machine.validate(&mut errors);
    errors.finish().map_err(|e| messages(&e))?;
    let actions = machine.actions();
    let graph = expand::Graph::new(&machine, &actions);
    Ok(Table {
        states: machine.states.iter().map(|s| s.ident.to_string()).collect(),
        actions: actions.iter().map(|a| a.method.to_string()).collect(),
        next: graph.next,
        targets: graph.targets,
        initial: machine
            .states
            .iter()
            .map(|s| s.attrs.initial.is_some())
            .collect(),
    })
}

fn messages(error: &syn::Error) -> Vec<String> {
    error.clone().into_iter().map(|e| e.to_string()).collect()
}
