//! serde's case conventions, applied exactly as `serde_derive` applies them to
//! variant names, so that a state or action never has two spellings.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RenameRule {
    None,
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

impl RenameRule {
    pub(crate) fn from_str(rule: &str) -> Option<Self> {
        RULES
            .iter()
            .find(|(name, _)| *name == rule)
            .map(|&(_, rule)| rule)
    }

    /// serde's `RenameRule::apply_to_variant`; the input is a `PascalCase` name.
    pub(crate) fn apply(self, variant: &str) -> String {
        match self {
            RenameRule::None | RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut chars = variant.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_lowercase().to_string() + chars.as_str()
                })
            }
            RenameRule::Snake => {
                let mut snake = String::with_capacity(variant.len() + 4);
                for (i, ch) in variant.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                snake
            }
            RenameRule::ScreamingSnake => RenameRule::Snake.apply(variant).to_ascii_uppercase(),
            RenameRule::Kebab => RenameRule::Snake.apply(variant).replace('_', "-"),
            RenameRule::ScreamingKebab => {
                RenameRule::ScreamingSnake.apply(variant).replace('_', "-")
            }
        }
    }
}

/// `mark_as_paid` -> `MarkAsPaid`: action names are written like methods and
/// become variants of the action enum.
pub(crate) fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{RenameRule, pascal_case};

    #[test]
    fn rules_match_serde() {
        let cases = [
            (RenameRule::None, "OutForDelivery"),
            (RenameRule::Lower, "outfordelivery"),
            (RenameRule::Upper, "OUTFORDELIVERY"),
            (RenameRule::Pascal, "OutForDelivery"),
            (RenameRule::Camel, "outForDelivery"),
            (RenameRule::Snake, "out_for_delivery"),
            (RenameRule::ScreamingSnake, "OUT_FOR_DELIVERY"),
            (RenameRule::Kebab, "out-for-delivery"),
            (RenameRule::ScreamingKebab, "OUT-FOR-DELIVERY"),
        ];
        for (rule, expected) in cases {
            assert_eq!(rule.apply("OutForDelivery"), expected, "{rule:?}");
        }
    }

    #[test]
    fn actions_become_pascal_case() {
        assert_eq!(pascal_case("mark_as_paid"), "MarkAsPaid");
        assert_eq!(pascal_case("Pay"), "Pay");
        assert_eq!(pascal_case("pay"), "Pay");
        assert_eq!(pascal_case("_x__y"), "XY");
    }
}
