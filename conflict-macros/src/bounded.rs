//! Tokens -> tokens syn can parse without deep recursion.
//!
//! syn parses types and expressions by recursive descent, so a deeply nested
//! type on a variant (`A(V<V<V<...>>>)`) or expression (`A = - - - ... 1`)
//! overflows the compiler's stack before the derive can say anything (the
//! derive fuzzer found it). Every such part of a declaration is one the
//! derive rejects or ignores: data on a variant, a discriminant, generics, a
//! where clause, other macros' attributes. When one is large, it is cut to a
//! small stand-in carrying its span before syn sees it, so the derive's error
//! still points at it. The derive's own attributes are parsed without
//! recursion and are left whole.

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, TokenStream, TokenTree};

/// Tokens a part may have before it is cut: far more than any type, value
/// or attribute the derive can accept, far less than overflows a stack.
const LIMIT: usize = 256;

/// Attributes the derive reads; they stay whole.
const OWN_ATTRIBUTES: [&str; 3] = ["state", "state_machine", "serde"];

pub(crate) fn bounded(input: TokenStream) -> TokenStream {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    cut_attributes(&mut tokens);
    let keyword = tokens.iter().position(
        |t| matches!(t, TokenTree::Ident(i) if i == "enum" || i == "struct" || i == "union"),
    );
    let Some(keyword) = keyword else {
        return cut_rest(tokens, 0);
    };
    let is_enum = matches!(&tokens[keyword], TokenTree::Ident(i) if i == "enum");
    let after_name = keyword + 2;
    let Some(body) = body_index(&tokens, after_name, !is_enum) else {
        return cut_rest(tokens, after_name);
    };
    // What follows the body (a tuple struct's where clause, stray tokens).
    let mut tokens = cut_rest(tokens, body + 1).into_iter().collect::<Vec<_>>();
    if let TokenTree::Group(group) = &tokens[body] {
        tokens[body] = if is_enum {
            with_stream(group, variants(group.stream()))
        } else if size(&tokens[body..=body]) > LIMIT {
            with_stream(group, TokenStream::new())
        } else {
            TokenTree::Group(group.clone())
        };
    }
    // Generics and a where clause: between the item's name and its body.
    if body > after_name && size(&tokens[after_name..body]) > LIMIT {
        let span = tokens[after_name].span();
        let stand_in = [
            TokenTree::Punct(Punct::new('<', Spacing::Alone)),
            TokenTree::Ident(Ident::new("__ConflictGenerics", span)),
            TokenTree::Punct(Punct::new('>', Spacing::Alone)),
        ];
        tokens.splice(after_name..body, stand_in);
    }
    tokens.into_iter().collect()
}

/// The item's body: the first `{..}` (or, for a struct, `(..)`) from
/// `start` that is not inside generics' angle brackets.
fn body_index(tokens: &[TokenTree], start: usize, paren_too: bool) -> Option<usize> {
    let mut angles = 0_usize;
    let mut previous_joint = false;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            TokenTree::Punct(p) if p.as_char() == '<' => angles += 1,
            // `->` and `=>` are not closing brackets.
            TokenTree::Punct(p) if p.as_char() == '>' && !previous_joint => {
                angles = angles.saturating_sub(1);
            }
            TokenTree::Group(g)
                if angles == 0
                    && (g.delimiter() == Delimiter::Brace
                        || (paren_too && g.delimiter() == Delimiter::Parenthesis)) =>
            {
                return Some(i);
            }
            _ => {}
        }
        previous_joint = matches!(token, TokenTree::Punct(p) if p.spacing() == Spacing::Joint && matches!(p.as_char(), '-' | '='));
    }
    None
}

/// `tokens`, with everything from `start` on cut to one stand-in token when
/// it is large: syn then reports that token as unexpected, where it was.
fn cut_rest(mut tokens: Vec<TokenTree>, start: usize) -> TokenStream {
    if start < tokens.len() && size(&tokens[start..]) > LIMIT {
        let span = tokens[start].span();
        tokens.truncate(start);
        tokens.push(TokenTree::Ident(Ident::new("__ConflictRest", span)));
    }
    tokens.into_iter().collect()
}

/// The variants of an enum body, each with large data or a large
/// discriminant cut.
fn variants(body: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut variant: Vec<TokenTree> = Vec::new();
    for token in body {
        let comma = matches!(&token, TokenTree::Punct(p) if p.as_char() == ',');
        variant.push(token);
        if comma {
            out.extend(variant_cut(std::mem::take(&mut variant)));
        }
    }
    out.extend(variant_cut(variant));
    out.into_iter().collect()
}

fn variant_cut(mut variant: Vec<TokenTree>) -> Vec<TokenTree> {
    cut_attributes(&mut variant);
    // After the attributes (`#` and a group): the name, then `(..)` or
    // `{..}`, then `= value`.
    let Some(name) = variant
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(_)))
    else {
        return variant;
    };
    if let Some(TokenTree::Group(fields)) = variant.get(name + 1)
        && size(&variant[name + 1..=name + 1]) > LIMIT
    {
        variant[name + 1] = with_stream(fields, TokenStream::new());
    }
    let equals = variant
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '='));
    if let Some(equals) = equals {
        let comma = matches!(variant.last(), Some(TokenTree::Punct(p)) if p.as_char() == ',');
        let end = variant.len() - usize::from(comma);
        if end > equals + 1 && size(&variant[equals + 1..end]) > LIMIT {
            let mut zero = Literal::usize_unsuffixed(0);
            zero.set_span(variant[equals + 1].span());
            variant.splice(equals + 1..end, [TokenTree::Literal(zero)]);
        }
    }
    variant
}

/// Cuts large attributes of other macros (`#[doc = ...]`, `#[cfg(...)]`) to
/// `#[doc = ""]`: syn would parse their values as expressions.
fn cut_attributes(tokens: &mut [TokenTree]) {
    for i in 1..tokens.len() {
        let is_attribute = matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '#');
        let TokenTree::Group(group) = &tokens[i] else {
            continue;
        };
        if !is_attribute || group.delimiter() != Delimiter::Bracket {
            continue;
        }
        let contents: Vec<TokenTree> = group.stream().into_iter().collect();
        let own = matches!(contents.first(), Some(TokenTree::Ident(path)) if OWN_ATTRIBUTES.iter().any(|own| path == own));
        if !own && size(&contents) > LIMIT {
            let span = group.span();
            let doc: TokenStream = [
                TokenTree::Ident(Ident::new("doc", span)),
                TokenTree::Punct(Punct::new('=', Spacing::Alone)),
                TokenTree::Literal(Literal::string("")),
            ]
            .into_iter()
            .collect();
            tokens[i] = with_stream(group, doc);
        }
    }
}

/// The tokens in `tokens`, groups' contents included, counted without
/// recursion; counting stops past the limit.
fn size(tokens: &[TokenTree]) -> usize {
    let mut count = 0;
    let mut pending: Vec<TokenTree> = tokens.to_vec();
    while let Some(token) = pending.pop() {
        count += 1;
        if count > LIMIT {
            break;
        }
        if let TokenTree::Group(group) = token {
            pending.extend(group.stream());
        }
    }
    count
}

fn with_stream(group: &Group, stream: TokenStream) -> TokenTree {
    let mut cut = Group::new(group.delimiter(), stream);
    cut.set_span(group.span());
    TokenTree::Group(cut)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use super::bounded;

    fn cut(source: &str) -> String {
        bounded(TokenStream::from_str(source).unwrap()).to_string()
    }

    #[test]
    fn large_rejected_parts_are_cut_and_small_ones_kept() {
        let deep = format!("{}u8{}", "V<".repeat(300), ">".repeat(300));
        assert_eq!(
            cut(&format!(
                "enum E {{ A({deep}), B = {}, C }}",
                "- ".repeat(300) + "1"
            )),
            "enum E { A () , B = 0 , C }"
        );
        assert_eq!(
            cut(&format!("enum E<T: {deep}> {{ A }}")),
            "enum E < __ConflictGenerics > { A }"
        );
        assert_eq!(
            cut(&format!(
                "#[doc = {}] enum E {{ #[cfg({deep})] A }}",
                "- ".repeat(300) + "1"
            )),
            "# [doc = \"\"] enum E { # [doc = \"\"] A }"
        );
        assert_eq!(cut(&format!("struct S {{ a: {deep} }}")), "struct S { }");
        assert_eq!(
            cut(&format!("struct S(u8) where {deep}: X;")),
            "struct S (u8) __ConflictRest"
        );
        assert_eq!(
            cut(&format!("enum E<F: Fn(u8) -> u8> {{ A({deep}) }} ({deep})")),
            "enum E < F : Fn (u8) -> u8 > { A () } __ConflictRest"
        );
        let small = "# [state (initial , on (go -> B))] enum E < T > { A (u8) , B = 1 , C }";
        assert_eq!(cut(small), small);
    }
}
