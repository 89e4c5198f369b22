//! Property test: whatever JSON a verified delivery holds, the SQS-safe encoding every message goes
//! out with holds only characters SQS accepts and reads back as the same value.

use gemini_webhooks_aws::sqs::{first_disallowed, json_len, to_json};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Characters of every kind, the ones SQS refuses well represented.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        1 => Just('\u{FFFE}'),
        1 => Just('\u{FFFF}'),
        1 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
        1 => Just('"'),
        1 => Just('\\'),
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..24).prop_map(|chars| chars.into_iter().collect())
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any_text(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_sqs_safe_encoding_round_trips_and_holds_only_allowed_characters(value in any_json()) {
        let text = to_json(&value).unwrap();
        prop_assert_eq!(first_disallowed(&text), None, "{}", text);
        prop_assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value.clone());
        prop_assert_eq!(json_len(&value).unwrap(), text.len());
    }
}
