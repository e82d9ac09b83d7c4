//! The attribute grammar: `#[state_machine(...)]` on the enum, `#[state(...)]`
//! on each variant, and the parts of `#[serde(...)]` that decide wire names.
//!
//! Parsers never return early: every bad key is recorded and parsing goes on,
//! so one build shows every attribute mistake at once.

use proc_macro2::{Span, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Token, parenthesized};

use crate::case::RenameRule;
use crate::errors::{Errors, with_page};

pub(crate) const CONTAINER: &str = "state_machine";
pub(crate) const VARIANT: &str = "state";

/// A key that may appear at most once; a repeat reports both places.
struct Once<T> {
    attribute: &'static str,
    key: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Once<T> {
    fn new(attribute: &'static str, key: &'static str) -> Self {
        Once {
            attribute,
            key,
            value: None,
        }
    }

    fn set(&mut self, errors: &mut Errors, span: Span, value: T) {
        if let Some((first, _)) = &self.value {
            let mut error = syn::Error::new(
                span,
                with_page(
                    format!(
                        "duplicate `{}` in #[{}(...)]; remove this one",
                        self.key, self.attribute
                    ),
                    "duplicate_key",
                ),
            );
            error.combine(syn::Error::new(
                *first,
                format!("`{}` first set here", self.key),
            ));
            errors.push(error);
        } else {
            self.value = Some((span, value));
        }
    }

    fn get(self) -> Option<(Span, T)> {
        self.value
    }
}

/// `#[state_machine(resource = "order", action = OrderAction, crate = path)]`
pub(crate) struct Container {
    pub(crate) resource: Option<syn::LitStr>,
    pub(crate) action: Option<syn::Ident>,
    pub(crate) krate: Option<syn::Path>,
    /// From `#[serde(rename_all = "...")]`.
    pub(crate) rename_all: RenameRule,
}

impl Container {
    pub(crate) fn from_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut resource = Once::<syn::LitStr>::new(CONTAINER, "resource");
        let mut action = Once::<syn::Ident>::new(CONTAINER, "action");
        let mut krate = Once::<syn::Path>::new(CONTAINER, "crate");
        for attr in attrs.iter().filter(|a| a.path().is_ident(CONTAINER)) {
            let parsed = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("resource") {
                    let name: syn::LitStr = meta.value()?.parse()?;
                    if name.value().trim().is_empty() {
                        errors.spanned(&name, "`resource` must name the resource, as in `resource = \"order\"`");
                    }
                    resource.set(errors, span, name);
                } else if meta.path.is_ident("action") {
                    action.set(errors, span, meta.value()?.parse()?);
                } else if meta.path.is_ident("crate") {
                    krate.set(errors, span, meta.value()?.parse()?);
                } else {
                    return Err(meta.error(with_page(
                        format!(
                            "unknown key in #[{CONTAINER}(...)]; expected `resource = \"name\"`, `action = TypeName` or `crate = path::to::conflict_runtime`"
                        ),
                        "unknown_key",
                    )));
                }
                Ok(())
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
        Container {
            resource: resource.get().map(|(_, v)| v),
            action: action.get().map(|(_, v)| v),
            krate: krate.get().map(|(_, v)| v),
            rename_all: serde_rename_all(attrs, errors),
        }
    }
}

/// One declared move out of a state: `pay -> Paid` (named, optionally
/// guarded: `pay -> Paid if credit_limit`) or `to(Paid)` (bare).
pub(crate) struct Move {
    pub(crate) action: Option<syn::Ident>,
    pub(crate) target: syn::Ident,
    pub(crate) guard: Option<syn::Path>,
}

/// `#[state(initial, terminal, allow_unreachable, on(pay -> Paid), to(Shipped))]`
#[derive(Default)]
pub(crate) struct Variant {
    pub(crate) initial: Option<Span>,
    pub(crate) terminal: Option<Span>,
    pub(crate) allow_unreachable: Option<Span>,
    pub(crate) moves: Vec<Move>,
    /// From `#[serde(rename = "...")]`.
    pub(crate) rename: Option<String>,
    /// A `#[state(...)]` failed to parse, so moves or flags may be missing:
    /// checks of the whole graph would report follow-on errors.
    pub(crate) incomplete: bool,
}

impl Variant {
    pub(crate) fn from_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut initial = Once::<()>::new(VARIANT, "initial");
        let mut terminal = Once::<()>::new(VARIANT, "terminal");
        let mut allow_unreachable = Once::<()>::new(VARIANT, "allow_unreachable");
        let mut moves = Vec::new();
        let mut incomplete = false;
        for attr in attrs.iter().filter(|a| a.path().is_ident(VARIANT)) {
            let parsed = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("initial") {
                    initial.set(errors, span, ());
                } else if meta.path.is_ident("terminal") {
                    terminal.set(errors, span, ());
                } else if meta.path.is_ident("allow_unreachable") {
                    allow_unreachable.set(errors, span, ());
                } else if meta.path.is_ident("on") {
                    let content;
                    parenthesized!(content in meta.input);
                    let named = content.parse_terminated(parse_named_move, Token![,])?;
                    moves.extend(named);
                } else if meta.path.is_ident("to") {
                    let content;
                    parenthesized!(content in meta.input);
                    let targets = content.parse_terminated(parse_bare_target, Token![,])?;
                    moves.extend(targets.into_iter().map(|target| Move {
                        action: None,
                        target,
                        guard: None,
                    }));
                } else {
                    return Err(meta.error(with_page(
                        format!(
                            "unknown key in #[{VARIANT}(...)]; expected `initial`, `terminal`, `on(action -> State, ...)`, `to(State, ...)` or `allow_unreachable`"
                        ),
                        "unknown_key",
                    )));
                }
                Ok(())
            });
            if let Err(error) = parsed {
                errors.push(error);
                incomplete = true;
            }
        }
        Variant {
            initial: initial.get().map(|(span, ())| span),
            terminal: terminal.get().map(|(span, ())| span),
            allow_unreachable: allow_unreachable.get().map(|(span, ())| span),
            moves,
            rename: serde_rename(attrs, errors),
            incomplete,
        }
    }
}

fn parse_named_move(input: syn::parse::ParseStream<'_>) -> syn::Result<Move> {
    let action: syn::Ident = input.parse()?;
    if !input.peek(Token![->]) {
        return Err(input.error(with_page(
            format!(
                "expected `->` after action `{action}`; write a named move as `{action} -> State`"
            ),
            "move_syntax",
        )));
    }
    input.parse::<Token![->]>()?;
    let target: syn::Ident = input.parse()?;
    let guard = if input.peek(Token![if]) {
        input.parse::<Token![if]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(with_page(
                format!("expected a guard function after `if`: `{action} -> {target} if path::to::guard`"),
                "guard_syntax",
            )));
        }
        Some(syn::Path::parse_mod_style(input).map_err(|error| {
            syn::Error::new(
                error.span(),
                with_page(
                    format!("a guard is a path to a function, such as `credit_limit` or `Order::credit_limit`: {error}"),
                    "guard_syntax",
                ),
            )
        })?)
    } else {
        None
    };
    Ok(Move {
        action: Some(action),
        target,
        guard,
    })
}

/// A target of `to(...)`: a bare move has no action, so it cannot be guarded
/// on the derive; say where the guard goes instead of "expected `,`".
fn parse_bare_target(input: syn::parse::ParseStream<'_>) -> syn::Result<syn::Ident> {
    let target: syn::Ident = input.parse()?;
    if input.peek(Token![if]) {
        return Err(input.error(with_page(
            format!(
                "a move in `to(...)` has no action to guard; name it in `on(...)`: `action -> {target} if guard`, or guard entering `{target}` at runtime with `Rules::guard_entering`"
            ),
            "guard_syntax",
        )));
    }
    Ok(target)
}

/// `#[serde(rename_all = "...")]`. `serde_derive` reports a rule it does not
/// know, so an unknown one is not reported twice.
fn serde_rename_all(attrs: &[syn::Attribute], errors: &mut Errors) -> RenameRule {
    serde_value(attrs, "rename_all", errors)
        .and_then(|lit| RenameRule::from_str(&lit.value()))
        .unwrap_or(RenameRule::None)
}

/// `#[serde(rename = "...")]` on a variant.
fn serde_rename(attrs: &[syn::Attribute], errors: &mut Errors) -> Option<String> {
    serde_value(attrs, "rename", errors).map(|lit| lit.value())
}

/// The serde value of `key`, in either the `key = "x"` or the
/// `key(serialize = "x", deserialize = "x")` form. States and actions have one
/// wire name, so the two directions must agree. Other malformed serde
/// attributes are left for `serde_derive` to report.
fn serde_value(attrs: &[syn::Attribute], key: &str, errors: &mut Errors) -> Option<syn::LitStr> {
    let mut value = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _reported_by_serde = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(key) {
                return skip_value(&meta);
            }
            if meta.input.peek(Token![=]) {
                value = Some(meta.value()?.parse()?);
                return Ok(());
            }
            let mut serialize = None::<syn::LitStr>;
            let mut deserialize = None::<syn::LitStr>;
            meta.parse_nested_meta(|direction| {
                let lit = direction.value()?.parse()?;
                if direction.path.is_ident("serialize") {
                    serialize = Some(lit);
                } else if direction.path.is_ident("deserialize") {
                    deserialize = Some(lit);
                }
                Ok(())
            })?;
            match (serialize, deserialize) {
                (Some(ser), Some(de)) if ser.value() == de.value() => value = Some(ser),
                (Some(_), Some(_)) => errors.spanned(&meta.path, format!(
                    "a state or action has one wire name; write `{key} = \"...\"` instead of different `serialize` and `deserialize` names"
                )),
                _ => errors.spanned(&meta.path, format!(
                    "a state or action has one wire name; write `{key} = \"...\"` instead of a name for one direction only"
                )),
            }
            Ok(())
        });
    }
    value
}

/// Skips the value of a serde key this derive does not read (`= value` or `(...)`).
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}
