//! State and action names are spelled exactly as serde spells them, under
//! every case convention serde knows.

use conflict_runtime::{Action, StateMachine};
use serde::{Deserialize, Serialize};

macro_rules! machine_with_rule {
    ($name:ident, $rule:literal) => {
        #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = $rule)]
        enum $name {
            #[state(initial, on(mark_as_paid -> OutForDelivery, pay -> HTTPError))]
            AwaitingPayment,
            #[state(on(deliver_now -> Done))]
            OutForDelivery,
            #[state(on(retry_request -> AwaitingPayment))]
            HTTPError,
            #[state(terminal)]
            Done,
        }
    };
}

machine_with_rule!(Lower, "lowercase");
machine_with_rule!(Upper, "UPPERCASE");
machine_with_rule!(Pascal, "PascalCase");
machine_with_rule!(Camel, "camelCase");
machine_with_rule!(Snake, "snake_case");
machine_with_rule!(ScreamingSnake, "SCREAMING_SNAKE_CASE");
machine_with_rule!(Kebab, "kebab-case");
machine_with_rule!(ScreamingKebab, "SCREAMING-KEBAB-CASE");

/// With no rule, serde uses the variant names as written.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Plain {
    #[state(initial, on(mark_as_paid -> OutForDelivery))]
    AwaitingPayment,
    #[state(terminal)]
    OutForDelivery,
}

/// The generated action enum, serialized, must match what `serde_derive`
/// produces for a hand-written enum with the same variants and rule.
macro_rules! reference_actions {
    ($name:ident, $rule:literal) => {
        #[derive(Serialize)]
        #[serde(rename_all = $rule)]
        enum $name {
            MarkAsPaid,
            Pay,
            DeliverNow,
            RetryRequest,
        }
    };
}

fn check<S>(reference_actions: &[String])
where
    S: StateMachine + Serialize + for<'de> Deserialize<'de>,
    S::Action: Serialize + for<'de> Deserialize<'de>,
{
    for &state in S::STATES {
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            state.name(),
            "{state:?}"
        );
        let back: S = serde_json::from_value(state.name().into()).unwrap();
        assert_eq!(back, state);
        assert_eq!(S::from_name(state.name()), Some(state));
    }
    let actions: Vec<String> = S::Action::ALL.iter().map(|a| a.name().to_owned()).collect();
    assert_eq!(actions, reference_actions);
    for &action in S::Action::ALL {
        assert_eq!(serde_json::to_value(action).unwrap(), action.name());
        let back: S::Action = serde_json::from_value(action.name().into()).unwrap();
        assert_eq!(back, action);
    }
}

macro_rules! rule_test {
    ($test:ident, $machine:ident, $rule:literal) => {
        #[test]
        fn $test() {
            reference_actions!(Reference, $rule);
            let reference = [
                Reference::MarkAsPaid,
                Reference::Pay,
                Reference::DeliverNow,
                Reference::RetryRequest,
            ]
            .iter()
            .map(|a| {
                serde_json::to_value(a)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>();
            check::<$machine>(&reference);
        }
    };
}

rule_test!(lowercase, Lower, "lowercase");
rule_test!(uppercase, Upper, "UPPERCASE");
rule_test!(pascal_case, Pascal, "PascalCase");
rule_test!(camel_case, Camel, "camelCase");
rule_test!(snake_case, Snake, "snake_case");
rule_test!(screaming_snake_case, ScreamingSnake, "SCREAMING_SNAKE_CASE");
rule_test!(kebab_case, Kebab, "kebab-case");
rule_test!(screaming_kebab_case, ScreamingKebab, "SCREAMING-KEBAB-CASE");

#[test]
fn no_rule_keeps_variant_names() {
    assert_eq!(Plain::NAMES, &["AwaitingPayment", "OutForDelivery"]);
    assert_eq!(PlainAction::NAMES, &["MarkAsPaid"]);
    assert_eq!(
        serde_json::to_value(Plain::OutForDelivery).unwrap(),
        "OutForDelivery"
    );
}

#[test]
fn snake_case_splits_every_capital_like_serde() {
    assert_eq!(Snake::HTTPError.name(), "h_t_t_p_error");
    assert_eq!(Camel::HTTPError.name(), "hTTPError");
}
