//! The attribute grammar: `#[state_machine(...)]` on the enum, `#[state(...)]`
//! on each variant, and the parts of `#[serde(...)]` that decide wire names.
//!
//! Parsers never return early: every bad key is recorded and parsing goes on,
//! so one build shows every attribute mistake at once.

use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Token, parenthesized};

use crate::case::RenameRule;
use crate::errors::{Errors, with_page};
use crate::suggest::did_you_mean;

pub(crate) const CONTAINER: &str = "state_machine";
pub(crate) const VARIANT: &str = "state";

/// The keys of `#[state_machine(...)]`, for suggestions.
const CONTAINER_KEYS: [&str; 5] = ["resource", "action", "crate", "action_alias", "removed"];
/// The keys of `#[state(...)]`, for suggestions.
const VARIANT_KEYS: [&str; 7] = [
    "initial",
    "terminal",
    "allow_unreachable",
    "on",
    "to",
    "after",
    "alias",
];

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

/// `#[state_machine(resource = "order", action = OrderAction, crate = path,
/// action_alias(dispatch = "ship"), removed(archived -> Cancelled))]`
pub(crate) struct Container {
    pub(crate) resource: Option<syn::LitStr>,
    pub(crate) action: Option<syn::Ident>,
    pub(crate) krate: Option<syn::Path>,
    /// `action_alias(dispatch = "ship")`: an action also read under an old
    /// wire name.
    pub(crate) action_aliases: Vec<(syn::Ident, syn::LitStr)>,
    /// `removed(archived -> Cancelled)`: a state no longer declared, whose
    /// stored rows are read as another.
    pub(crate) removed: Vec<Removed>,
    /// From `#[serde(rename_all = "...")]`.
    pub(crate) rename_all: RenameRule,
}

impl Container {
    pub(crate) fn from_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> Self {
        let mut resource = Once::<syn::LitStr>::new(CONTAINER, "resource");
        let mut action = Once::<syn::Ident>::new(CONTAINER, "action");
        let mut krate = Once::<syn::Path>::new(CONTAINER, "crate");
        let mut action_aliases = Vec::new();
        let mut removed = Vec::new();
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
                } else if meta.path.is_ident("action_alias") {
                    meta.parse_nested_meta(|alias| {
                        let action = alias.path.require_ident()?.clone();
                        action_aliases.push((action, alias.value()?.parse()?));
                        Ok(())
                    })?;
                } else if meta.path.is_ident("removed") {
                    let content;
                    parenthesized!(content in meta.input);
                    removed.extend(content.parse_terminated(parse_removed, Token![,])?);
                } else {
                    let written = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
                    let suggestion = did_you_mean(&written, CONTAINER_KEYS);
                    return Err(meta.error(with_page(
                        format!(
                            "unknown key `{written}` in #[{CONTAINER}(...)]; expected `resource = \"name\"`, `action = TypeName`, `crate = path::to::conflict_runtime`, `action_alias(action = \"old_name\")` or `removed(old_name -> State)`{suggestion}"
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
            action_aliases,
            removed,
            rename_all: serde_rename_all(attrs, errors),
        }
    }
}

/// `archived -> Cancelled` (or `"in-transit" -> Shipped` for a name that is
/// not an identifier): rows stored in `archived` are read as `Cancelled`.
pub(crate) struct Removed {
    pub(crate) name: syn::LitStr,
    pub(crate) target: syn::Ident,
}

fn parse_removed(input: syn::parse::ParseStream<'_>) -> syn::Result<Removed> {
    let name = if input.peek(syn::LitStr) {
        input.parse::<syn::LitStr>()?
    } else {
        let ident = input.call(syn::Ident::parse_any).map_err(|error| {
            syn::Error::new(
                error.span(),
                with_page(
                    "expected the removed state's stored name: `removed(archived -> Cancelled)`",
                    "removed_state",
                ),
            )
        })?;
        syn::LitStr::new(&ident.unraw().to_string(), ident.span())
    };
    if !input.peek(Token![->]) {
        return Err(input.error(with_page(
            format!(
                "expected `->` after `{}`: name the state its rows are read as, `removed({} -> State)`",
                name.value(),
                name.value()
            ),
            "removed_state",
        )));
    }
    input.parse::<Token![->]>()?;
    Ok(Removed {
        name,
        target: input.parse()?,
    })
}

/// One declared move out of a state: `pay -> Paid` (named, optionally
/// guarded: `pay -> Paid if credit_limit`) or `to(Paid)` (bare).
pub(crate) struct Move {
    pub(crate) action: Option<syn::Ident>,
    pub(crate) target: syn::Ident,
    pub(crate) guard: Option<Guard>,
}

/// The guard of a named move: `if credit_limit`, or `if async credit_check`
/// for a function that returns a future.
pub(crate) struct Guard {
    pub(crate) path: syn::Path,
    pub(crate) is_async: bool,
}

/// `after(30min, expire -> Cancelled)`, or `after(30min, expire)` for a
/// move declared in `on(...)`: the move made by itself once the resource
/// has been in the state that long.
pub(crate) struct Deadline {
    /// `after`, where errors about the deadline as a whole point.
    pub(crate) span: Span,
    /// In whole seconds; `None` when it did not read (already reported).
    pub(crate) seconds: Option<u64>,
    pub(crate) action: syn::Ident,
    /// Whether `after(...)` declares the move itself (`-> Target`).
    pub(crate) declares: bool,
}

/// `#[state(initial, terminal, allow_unreachable, on(pay -> Paid), to(Shipped),
/// after(30min, expire -> Cancelled))]`
#[derive(Default)]
pub(crate) struct Variant {
    pub(crate) initial: Option<Span>,
    pub(crate) terminal: Option<Span>,
    pub(crate) allow_unreachable: Option<Span>,
    pub(crate) moves: Vec<Move>,
    pub(crate) deadline: Option<Deadline>,
    /// `alias = "shipped"`, and serde's own `#[serde(alias = "...")]`: old
    /// wire names still read as this state.
    pub(crate) aliases: Vec<syn::LitStr>,
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
        let mut deadline: Option<Deadline> = None;
        let mut aliases = Vec::new();
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
                } else if meta.path.is_ident("after") {
                    let content;
                    parenthesized!(content in meta.input);
                    let (parsed, declared) = parse_deadline(span, &content, errors)?;
                    if let Some(first) = &deadline {
                        let mut error = syn::Error::new(
                            span,
                            with_page(
                                "a state has at most one deadline; remove this `after(...)`, or move it to the state it belongs to",
                                "two_deadlines",
                            ),
                        );
                        error.combine(syn::Error::new(first.span, "the first deadline of this state"));
                        errors.push(error);
                    } else {
                        moves.extend(declared);
                        deadline = Some(parsed);
                    }
                } else if meta.path.is_ident("alias") {
                    aliases.push(meta.value()?.parse()?);
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
                    let written = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
                    let suggestion = did_you_mean(&written, VARIANT_KEYS);
                    return Err(meta.error(with_page(
                        format!(
                            "unknown key `{written}` in #[{VARIANT}(...)]; expected `initial`, `terminal`, `on(action -> State, ...)`, `to(State, ...)`, `after(30min, action -> State)`, `alias = \"old_name\"` or `allow_unreachable`{suggestion}"
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
        let terminal = terminal.get().map(|(span, ())| span);
        if terminal.is_some()
            && let Some(declared) = deadline.as_ref().filter(|deadline| deadline.declares)
        {
            // Reported as a deadline on a terminal state, not again as a move.
            let action = &declared.action;
            moves.retain(|m| m.action.as_ref() != Some(action));
        }
        Variant {
            initial: initial.get().map(|(span, ())| span),
            terminal,
            allow_unreachable: allow_unreachable.get().map(|(span, ())| span),
            moves,
            deadline,
            aliases: distinct(aliases.into_iter().chain(serde_aliases(attrs))),
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
        let is_async = input.parse::<Option<Token![async]>>()?.is_some();
        let written = if is_async { "if async" } else { "if" };
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(with_page(
                format!("expected a guard function after `{written}`: `{action} -> {target} {written} path::to::guard`"),
                "guard_syntax",
            )));
        }
        let path = syn::Path::parse_mod_style(input).map_err(|error| {
            syn::Error::new(
                error.span(),
                with_page(
                    format!("a guard is a path to a function, such as `credit_limit` or `Order::credit_limit`: {error}"),
                    "guard_syntax",
                ),
            )
        })?;
        Some(Guard { path, is_async })
    } else {
        None
    };
    Ok(Move {
        action: Some(action),
        target,
        guard,
    })
}

/// The inside of `after(...)`: a duration, then `action -> Target` (the move
/// declared here) or `action` (a move of `on(...)`). A duration that does
/// not read is reported and the rest still parsed, so that the move exists.
fn parse_deadline(
    after: Span,
    input: syn::parse::ParseStream<'_>,
    errors: &mut Errors,
) -> syn::Result<(Deadline, Option<Move>)> {
    let seconds = parse_duration(input, errors)?;
    if !input.peek(Token![,]) {
        return Err(input.error(with_page(
            "expected `,` and the move after the duration: `after(30min, expire -> Cancelled)`",
            "deadline_syntax",
        )));
    }
    input.parse::<Token![,]>()?;
    let action: syn::Ident = input.parse()?;
    let declared = if input.peek(Token![->]) {
        input.parse::<Token![->]>()?;
        let target: syn::Ident = input.parse()?;
        Some(Move {
            action: Some(action.clone()),
            target,
            guard: None,
        })
    } else {
        None
    };
    if !input.is_empty() {
        return Err(input.error(with_page(
            "a deadline is one duration and one move: `after(30min, expire -> Cancelled)`; guard it at runtime with `Rules::guard`",
            "deadline_syntax",
        )));
    }
    let deadline = Deadline {
        span: after,
        seconds,
        action,
        declares: declared.is_some(),
    };
    Ok((deadline, declared))
}

/// The units a deadline is written in, as seconds.
const UNITS: &[(&str, u64)] = &[
    ("s", 1),
    ("sec", 1),
    ("secs", 1),
    ("second", 1),
    ("seconds", 1),
    ("min", 60),
    ("mins", 60),
    ("minute", 60),
    ("minutes", 60),
    ("h", 3600),
    ("hour", 3600),
    ("hours", 3600),
    ("d", 86_400),
    ("day", 86_400),
    ("days", 86_400),
];

/// `30min`, `30 min`, `2h`, `7 days`: a whole number and a unit. Anything
/// else is reported (and `None`); zero and overflow too.
fn parse_duration(
    input: syn::parse::ParseStream<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<u64>> {
    let units = "s, min, h or d (30min, 2h, 7d)";
    let Ok(number) = input.parse::<syn::LitInt>() else {
        let span = input.span();
        // Skip to the `,` so that the move still parses.
        while !input.is_empty() && !input.peek(Token![,]) {
            input.parse::<TokenTree>()?;
        }
        errors.push(syn::Error::new(
            span,
            with_page(
                format!("a deadline starts with how long: a whole number and a unit of {units}"),
                "deadline_duration",
            ),
        ));
        return Ok(None);
    };
    // The unit is the literal's suffix (`30min`) or the next word (`30 min`).
    let (unit, unit_span) = if number.suffix().is_empty() {
        match input.parse::<syn::Ident>() {
            Ok(unit) => (unit.to_string(), unit.span()),
            Err(_) => (String::new(), number.span()),
        }
    } else {
        (number.suffix().to_owned(), number.span())
    };
    let Some((_, per)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        let message = if unit.is_empty() {
            format!("`{number}` has no unit; write a whole number and a unit of {units}")
        } else {
            let suggestion = did_you_mean(&unit, UNITS.iter().map(|(name, _)| *name));
            format!("unknown unit `{unit}`; write a whole number and a unit of {units}{suggestion}")
        };
        errors.push(syn::Error::new(
            unit_span,
            with_page(message, "deadline_duration"),
        ));
        return Ok(None);
    };
    let seconds = number
        .base10_parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(*per));
    match seconds {
        Some(0) => {
            errors.spanned(
                &number,
                with_page(
                    "a deadline of zero would fire as the state is entered; make the move itself instead, or give a duration above zero",
                    "deadline_duration",
                ),
            );
            Ok(None)
        }
        Some(seconds) => Ok(Some(seconds)),
        None => {
            errors.spanned(
                &number,
                with_page(
                    "this deadline does not fit in 64 bits of seconds",
                    "deadline_duration",
                ),
            );
            Ok(None)
        }
    }
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
/// `aliases` without repeats: the same alias in `#[state(...)]` and in
/// `#[serde(...)]` (so that serde reads it too) is one.
fn distinct(aliases: impl Iterator<Item = syn::LitStr>) -> Vec<syn::LitStr> {
    let mut kept: Vec<syn::LitStr> = Vec::new();
    for alias in aliases {
        if !kept.iter().any(|seen| seen.value() == alias.value()) {
            kept.push(alias);
        }
    }
    kept
}

/// Every `#[serde(alias = "...")]`: serde reads them, so the machine does too.
fn serde_aliases(attrs: &[syn::Attribute]) -> Vec<syn::LitStr> {
    let mut aliases = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _reported_by_serde = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("alias") {
                aliases.push(meta.value()?.parse()?);
                return Ok(());
            }
            skip_value(&meta)
        });
    }
    aliases
}

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
