//! Routing rules: which targets an event goes to, by its type and (optionally) its `user_metadata`. A
//! target is an SQS queue (`queues`, by URL) or an EventBridge bus (`buses`, by ARN: the event's type is
//! the detail type, the downstream message the detail, `gemini-webhooks` the source).
//!
//! `ROUTES` is a JSON list; every matching rule's targets receive the event (fan-out), and an event no
//! rule matches goes to the default queue, so nothing is dropped for lack of a route:
//!
//! ```json
//! [{"match": "batch.*", "queues": ["https://sqs.../batch"]},
//!  {"match": "*.failed", "metadata": {"team": "ml"}, "queues": ["https://sqs.../ml-alerts"]},
//!  {"match": "*", "buses": ["arn:aws:events:us-east-1:123456789012:event-bus/gemini"]}]
//! ```

use serde::Deserialize;
use serde_json::{Map, Value};
use wildmatch::WildMatch;

use crate::sqs::is_queue_url;

/// A rule set that cannot be used; names the rule by its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutesError {
    /// Not a JSON list of rule objects.
    #[error("ROUTES is not a JSON list of rules: {0}")]
    NotAList(String),
    /// One rule is unusable.
    #[error("rule #{position}: {problem}")]
    Rule {
        /// 1-based position in the list.
        position: usize,
        /// What is wrong.
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    metadata: Map<String, Value>,
    #[serde(default)]
    queues: Vec<String>,
    #[serde(default)]
    buses: Vec<String>,
}

/// What kind of target an address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An SQS queue, by URL.
    Queue,
    /// An EventBridge event bus, by ARN.
    Bus,
}

impl TargetKind {
    /// The kind of `target`: a bus ARN is a bus, anything else a queue URL.
    pub fn of(target: &str) -> Self {
        if is_bus_arn(target) { Self::Bus } else { Self::Queue }
    }
}

/// Whether `text` is an EventBridge event bus ARN: `arn:{partition}:events:{region}:{account}:event-bus/{name}`.
pub fn is_bus_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else { return false };
    let name = resource.strip_prefix("event-bus/").unwrap_or_default();
    arn == "arn"
        && partition.starts_with("aws")
        && service == "events"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=256).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}

/// One rule: a type glob (`*` any run of characters, `?` one), optional metadata equalities, and the
/// targets (queue URLs, then bus ARNs) that receive what matches.
#[derive(Debug, Clone)]
pub struct Rule {
    pattern: String,
    glob: WildMatch,
    metadata: Map<String, Value>,
    targets: Vec<String>,
}

impl Rule {
    fn matches(&self, event_type: &str, user_metadata: Option<&Map<String, Value>>) -> bool {
        self.glob.matches(event_type)
            && self
                .metadata
                .iter()
                .all(|(key, expected)| user_metadata.and_then(|m| m.get(key)) == Some(expected))
    }

    /// The type glob, as configured.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// Where one event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinations<'a> {
    /// Queue URLs and bus ARNs, each once ([`TargetKind::of`] tells which).
    pub targets: Vec<&'a str>,
    /// No rule matched: `targets` is the default queue alone.
    pub by_default: bool,
}

/// The whole rule set and the default queue.
#[derive(Debug, Clone)]
pub struct Routes {
    rules: Vec<Rule>,
    default_queue: String,
}

impl Routes {
    /// Parses `ROUTES` (a JSON list; empty or absent means every event goes to `default_queue`).
    pub fn parse(routes_json: Option<&str>, default_queue: impl Into<String>) -> Result<Self, RoutesError> {
        let raw: Vec<Value> = match routes_json.map(str::trim).filter(|s| !s.is_empty()) {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| RoutesError::NotAList(e.to_string()))?,
        };
        let rules = raw
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let invalid = |problem: String| RoutesError::Rule { position: i + 1, problem };
                let rule: RawRule = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
                if rule.pattern.is_empty() {
                    return Err(invalid("`match` is empty".into()));
                }
                if rule.queues.is_empty() && rule.buses.is_empty() {
                    return Err(invalid("no target: `queues` and `buses` are both empty".into()));
                }
                if let Some(bad) = rule.queues.iter().find(|q| !is_queue_url(q)) {
                    return Err(invalid(format!("{bad:?} is not an SQS queue URL")));
                }
                if let Some(bad) = rule.buses.iter().find(|b| !is_bus_arn(b)) {
                    return Err(invalid(format!("{bad:?} is not an EventBridge event bus ARN")));
                }
                Ok(Rule {
                    glob: WildMatch::new(&rule.pattern),
                    pattern: rule.pattern,
                    metadata: rule.metadata,
                    targets: rule.queues.into_iter().chain(rule.buses).collect(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules, default_queue: default_queue.into() })
    }

    /// The targets an event goes to, each once, in rule order; the default queue when no rule matches.
    pub fn destinations(
        &self,
        event_type: &str,
        user_metadata: Option<&Map<String, Value>>,
    ) -> Destinations<'_> {
        let mut targets: Vec<&str> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.matches(event_type, user_metadata)) {
            for target in &rule.targets {
                if !targets.contains(&target.as_str()) {
                    targets.push(target);
                }
            }
        }
        let by_default = targets.is_empty();
        if by_default {
            targets.push(&self.default_queue);
        }
        Destinations { targets, by_default }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every target an event can go to, each once: the rules' and the default queue.
    pub fn targets(&self) -> Vec<&str> {
        let mut targets: Vec<&str> = Vec::new();
        for target in self.rules.iter().flat_map(|r| &r.targets).chain([&self.default_queue]) {
            if !targets.contains(&target.as_str()) {
                targets.push(target);
            }
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BATCH: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/batch";
    const ALERTS: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/alerts";
    const DEFAULT: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/default";

    fn routes(json: &str) -> Routes {
        Routes::parse(Some(json), DEFAULT).unwrap()
    }

    #[test]
    fn a_type_glob_selects_its_queues_and_the_rest_go_to_the_default() {
        let routes = routes(&format!(r#"[{{"match": "batch.*", "queues": ["{BATCH}"]}}]"#));
        assert_eq!(
            routes.destinations("batch.succeeded", None),
            Destinations { targets: vec![BATCH], by_default: false }
        );
        assert_eq!(routes.destinations("interaction.completed", None).targets, [DEFAULT]);
        assert_eq!(routes.destinations("batchy", None).targets, [DEFAULT]);
    }

    #[test]
    fn every_matching_rule_receives_the_event_once() {
        let routes = routes(&format!(
            r#"[{{"match": "batch.*", "queues": ["{BATCH}"]}},
                {{"match": "*.failed", "queues": ["{ALERTS}", "{BATCH}"]}}]"#
        ));
        assert_eq!(routes.destinations("batch.failed", None).targets, [BATCH, ALERTS]);
        assert_eq!(routes.destinations("interaction.failed", None).targets, [ALERTS, BATCH]);
    }

    #[test]
    fn metadata_must_match_every_listed_key() {
        let routes = routes(&format!(
            r#"[{{"match": "*", "metadata": {{"team": "ml", "tier": 1}}, "queues": ["{ALERTS}"]}}]"#
        ));
        let meta = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            routes
                .destinations("batch.failed", Some(&meta(json!({"team": "ml", "tier": 1, "x": 0}))))
                .targets,
            [ALERTS]
        );
        assert_eq!(
            routes.destinations("batch.failed", Some(&meta(json!({"team": "ml", "tier": "1"})))).targets,
            [DEFAULT]
        );
        assert_eq!(
            routes.destinations("batch.failed", Some(&meta(json!({"team": "ml"})))).targets,
            [DEFAULT]
        );
        assert_eq!(routes.destinations("batch.failed", None).targets, [DEFAULT]);
    }

    #[test]
    fn no_rules_send_everything_to_the_default() {
        for json in [None, Some(""), Some("[]")] {
            let routes = Routes::parse(json, DEFAULT).unwrap();
            assert_eq!(
                routes.destinations("anything", None),
                Destinations { targets: vec![DEFAULT], by_default: true }
            );
        }
    }

    #[test]
    fn an_invalid_rule_is_named_by_position() {
        let cases = [
            format!(r#"[{{"match": "a", "queues": ["{BATCH}"]}}, {{"match": "b", "queues": []}}]"#),
            format!(r#"[{{"match": "a", "queues": ["{BATCH}"]}}, {{"queues": ["{BATCH}"]}}]"#),
            format!(
                r#"[{{"match": "a", "queues": ["{BATCH}"]}}, {{"match": "b", "queues": ["not a url"]}}]"#
            ),
            format!(r#"[{{"match": "a", "queues": ["{BATCH}"]}}, {{"match": "b", "queue": ["{BATCH}"]}}]"#),
            format!(r#"[{{"match": "a", "queues": ["{BATCH}"]}}, {{"match": "b", "buses": ["gemini"]}}]"#),
            format!(r#"[{{"match": "a", "queues": ["{BATCH}"]}}, {{"match": "b", "buses": ["{BATCH}"]}}]"#),
        ];
        for json in cases {
            let err = Routes::parse(Some(&json), DEFAULT).unwrap_err();
            assert!(matches!(err, RoutesError::Rule { position: 2, .. }), "{json}: {err}");
        }
        assert!(matches!(Routes::parse(Some("{}"), DEFAULT), Err(RoutesError::NotAList(_))));
    }

    #[test]
    fn a_rule_may_send_to_buses_as_well_as_queues() {
        let bus = "arn:aws:events:us-east-1:123456789012:event-bus/gemini";
        let routes = routes(&format!(
            r#"[{{"match": "batch.*", "queues": ["{BATCH}"], "buses": ["{bus}"]}},
                {{"match": "*.failed", "buses": ["{bus}"]}}]"#
        ));
        assert_eq!(routes.destinations("batch.failed", None).targets, [BATCH, bus]);
        assert_eq!(routes.destinations("interaction.failed", None).targets, [bus]);
        assert_eq!(routes.targets(), [BATCH, bus, DEFAULT]);
        assert_eq!((TargetKind::of(bus), TargetKind::of(BATCH)), (TargetKind::Bus, TargetKind::Queue));
    }

    #[test]
    fn only_an_event_bus_arn_is_a_bus() {
        for good in [
            "arn:aws:events:us-east-1:123456789012:event-bus/gemini",
            "arn:aws:events:eu-west-1:123456789012:event-bus/default",
            "arn:aws-cn:events:cn-north-1:123456789012:event-bus/a.b-c_d",
        ] {
            assert!(is_bus_arn(good), "{good}");
        }
        for bad in [
            "gemini",
            "arn:aws:events:us-east-1:123456789012:rule/gemini",
            "arn:aws:sqs:us-east-1:123456789012:event-bus/gemini",
            "arn:aws:events:us-east-1:1234:event-bus/gemini",
            "arn:aws:events::123456789012:event-bus/gemini",
            "arn:aws:events:us-east-1:123456789012:event-bus/",
            "arn:aws:events:us-east-1:123456789012:event-bus/has space",
        ] {
            assert!(!is_bus_arn(bad), "{bad}");
        }
    }
}
