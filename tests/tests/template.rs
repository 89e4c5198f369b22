//! `template.yaml` against the code: the emulator harness creates what the template declares, and every
//! function gets exactly the variables it reads. Fails when either side drifts.

use std::collections::BTreeSet;

use serde_yaml::Value;
use shared::config::{FromVars, Variable};
use testkit::{
    CLAIMS_TABLE, DLQ_RETENTION_SECS, EVENTS_TABLE, FANOUT_DLQ, INGEST_QUEUE, MAX_MESSAGE_BYTES,
    QUARANTINE_QUEUE, QueueSpec, ROUTED_QUEUES,
};

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    let resource = &template["Resources"][name];
    assert!(!resource.is_null(), "template has no resource {name}");
    &resource["Properties"]
}

/// A scalar as text, whether YAML wrote it as a number or a string.
fn text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// `Foo` for `!GetAtt Foo.Arn` (the tag keeps its argument).
fn get_att_target(value: &Value) -> String {
    let Value::Tagged(tagged) = value else { panic!("not a tag: {value:?}") };
    assert_eq!(tagged.tag.to_string(), "!GetAtt");
    text(&tagged.value).split('.').next().unwrap().to_owned()
}

fn logical_queue(spec: &QueueSpec) -> String {
    let mut name = spec.name.to_owned();
    name[..1].make_ascii_uppercase();
    format!("{name}Queue")
}

#[test]
fn the_events_table_matches_the_harness() {
    let template = template();
    let table = resource(&template, "EventsTable");
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some(EVENTS_TABLE.partition_key));
    assert_eq!(table["KeySchema"][0]["KeyType"].as_str(), Some("HASH"));
    assert_eq!(table["AttributeDefinitions"][0]["AttributeType"].as_str(), Some("S"));
    assert_eq!(table["StreamSpecification"]["StreamViewType"].as_str(), EVENTS_TABLE.stream_view);
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(EVENTS_TABLE.ttl_attribute));
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    assert_eq!(table["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
}

#[test]
fn the_consumers_claims_table_matches_the_harness() {
    let template = template();
    let table = resource(&template, "ClaimsTable");
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some(CLAIMS_TABLE.partition_key));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(CLAIMS_TABLE.ttl_attribute));
    assert!(table["StreamSpecification"].is_null());
}

#[test]
fn every_queue_matches_the_harness_and_redrives_to_its_own_dlq() {
    let template = template();
    for spec in std::iter::once(&INGEST_QUEUE).chain(&ROUTED_QUEUES) {
        let name = logical_queue(spec);
        let queue = resource(&template, &name);
        assert_eq!(text(&queue["VisibilityTimeout"]), spec.visibility_timeout_secs.to_string(), "{name}");
        assert_eq!(text(&queue["MessageRetentionPeriod"]), spec.retention_secs.to_string(), "{name}");
        let redrive = &queue["RedrivePolicy"];
        assert_eq!(text(&redrive["maxReceiveCount"]), spec.max_receive_count.to_string(), "{name}");
        let dlq = get_att_target(&redrive["deadLetterTargetArn"]);
        assert_eq!(dlq, name.replace("Queue", "DLQ"), "{name} redrives to its own DLQ");
        assert_eq!(
            text(&resource(&template, &dlq)["MessageRetentionPeriod"]),
            DLQ_RETENTION_SECS.to_string()
        );
    }
}

#[test]
fn the_queues_that_keep_what_failed_match_the_harness_and_outlive_the_stack() {
    let template = template();
    for (logical, spec) in [("QuarantineQueue", QUARANTINE_QUEUE), ("FanoutDLQ", FANOUT_DLQ)] {
        let queue = resource(&template, logical);
        assert_eq!(text(&queue["MessageRetentionPeriod"]), spec.retention_secs.to_string(), "{logical}");
        assert!(queue["RedrivePolicy"].is_null(), "{logical} is where things end up: no DLQ of its own");
    }
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let keeps_data =
            name.ends_with("DLQ") || ["QuarantineQueue", "EventsTable", "EndpointSecret"].contains(&name);
        if keeps_data {
            assert_eq!(resource["DeletionPolicy"].as_str(), Some("Retain"), "{name}");
            assert_eq!(resource["UpdateReplacePolicy"].as_str(), Some("Retain"), "{name}");
        }
    }
}

#[test]
fn every_queue_takes_the_largest_message_the_size_budget_assumes() {
    let template = template();
    let mut queues = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() == Some("AWS::SQS::Queue") {
            queues += 1;
            let size = text(&resource["Properties"]["MaximumMessageSize"]);
            assert_eq!(size, MAX_MESSAGE_BYTES.to_string(), "{}", name.as_str().unwrap());
        }
    }
    assert!(queues >= 12);
    let receiver = &resource(&template, "ReceiverFunction")["Environment"]["Variables"];
    let max_body: usize = text(&receiver["MAX_BODY_BYTES"]).parse().unwrap();
    assert_eq!(max_body, shared::limits::DEFAULT_MAX_BODY_BYTES);
}

#[test]
fn the_ingest_visibility_timeout_is_at_least_six_recorder_timeouts() {
    let template = template();
    let recorder_timeout: u64 = text(&resource(&template, "RecorderFunction")["Timeout"]).parse().unwrap();
    assert!(u64::from(INGEST_QUEUE.visibility_timeout_secs) >= 6 * recorder_timeout);
}

fn environment(template: &Value, function: &str) -> BTreeSet<String> {
    let variables =
        resource(template, function)["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    let globals =
        template["Globals"]["Function"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    variables.keys().chain(globals.keys()).map(|k| k.as_str().unwrap().to_owned()).collect()
}

/// The function's variables, as its configuration reads them (`FromVars::variables`).
fn assert_variables(template: &Value, function: &str, read: &[Variable]) {
    let set = environment(template, function);
    for variable in &set {
        assert!(
            read.iter().any(|v| v.name == variable) || variable == "RUST_LOG",
            "{function} sets {variable}, which the code never reads"
        );
    }
    for variable in read.iter().filter(|v| v.required) {
        assert!(set.contains(variable.name), "{function} lacks required {}", variable.name);
    }
}

#[test]
fn every_function_gets_exactly_the_variables_its_code_reads() {
    let template = template();
    assert_variables(&template, "ReceiverFunction", &receiver::Config::variables());
    assert_variables(&template, "RecorderFunction", &recorder::Config::variables());
    assert_variables(&template, "FanoutFunction", &fanout::Config::variables());
    assert_variables(&template, "ConsumerFunction", &consumer::Config::variables());
}

#[test]
fn the_templates_routes_parse_and_cover_every_documented_family() {
    let template = template();
    let routes = &resource(&template, "FanoutFunction")["Environment"]["Variables"]["ROUTES"];
    let Value::Tagged(sub) = routes else { panic!("ROUTES is a !Sub") };
    let pattern = text(&sub.value[0]);
    let filled = ["Batch", "Interaction", "Video"]
        .iter()
        .fold(pattern, |json, name| {
            json.replace(
                &format!("${{{name}}}"),
                &format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}"),
            )
        })
        .replace("${Extra}", "");
    let routes =
        shared::routing::Routes::parse(Some(&filled), "https://sqs.us-east-1.amazonaws.com/1/default")
            .unwrap();
    for (event_type, _) in shared::EventKind::CATALOG {
        let destinations = routes.destinations(event_type, None);
        assert!(!destinations.by_default, "{event_type} has a route");
    }
    assert!(routes.destinations("model.tuned", None).by_default, "unknown types go to the default queue");
}

#[test]
fn functions_are_built_with_cargo_lambda_for_al2023() {
    let template = template();
    assert_eq!(template["Globals"]["Function"]["Runtime"].as_str(), Some("provided.al2023"));
    for (function, binary) in [
        ("ReceiverFunction", "receiver"),
        ("RecorderFunction", "recorder"),
        ("FanoutFunction", "fanout"),
        ("ConsumerFunction", "consumer"),
    ] {
        let metadata = &template["Resources"][function]["Metadata"];
        assert_eq!(metadata["BuildMethod"].as_str(), Some("rust-cargolambda"), "{function}");
        assert_eq!(metadata["BuildProperties"]["Binary"].as_str(), Some(binary), "{function}");
    }
}

/// Every statement of every IAM policy in the template: the roles' inline policies, and any function's
/// own `Policies`.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap().to_owned();
        let policies = &resource["Properties"]["Policies"];
        for policy in policies.as_sequence().into_iter().flatten() {
            let document =
                if policy["PolicyDocument"].is_null() { policy } else { &policy["PolicyDocument"] };
            for statement in document["Statement"].as_sequence().into_iter().flatten() {
                // A conditional statement (`!If [Cond, statement, !Ref AWS::NoValue]`): its statement.
                let statement = match statement {
                    Value::Tagged(tagged) if tagged.tag == "!If" => tagged.value[1].clone(),
                    statement => statement.clone(),
                };
                found.push((name.clone(), statement));
            }
        }
    }
    found
}

/// Actions AWS grants only on `"*"`. None is needed today: a statement on `"*"` fails the test below
/// unless its action is listed here, with the reason.
const STAR_ONLY_ACTIONS: &[&str] = &[];

#[test]
fn every_function_has_its_own_role_and_no_permission_on_everything() {
    let template = template();
    let mut functions = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        // Without an explicit role SAM creates one and, for SQS and stream triggers, attaches
        // AWSLambdaSQSQueueExecutionRole / AWSLambdaDynamoDBExecutionRole: receive and delete on every
        // queue in the account, read every stream.
        let role = &resource["Properties"]["Role"];
        assert!(!role.is_null(), "{name} has no role of its own, so SAM would attach its managed policies");
        assert_eq!(get_att_target(role), format!("{}Role", name.trim_end_matches("Function")), "{name}");
        assert!(resource["Properties"]["Policies"].is_null(), "{name}: permissions belong on its role");
    }
    assert_eq!(functions, 4);
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::IAM::Role") {
            continue;
        }
        for managed in resource["Properties"]["ManagedPolicyArns"].as_sequence().into_iter().flatten() {
            let Value::Tagged(sub) = managed else { panic!("{name:?}: {managed:?}") };
            assert!(
                text(&sub.value).ends_with(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
                "{name:?} has managed policy {managed:?}: only AWSLambdaBasicExecutionRole (its own logs)"
            );
        }
    }
    let all = statements(&template);
    assert_eq!(all.len(), 13, "every statement of the four roles is checked");
    for (name, statement) in all {
        let resources: Vec<&Value> = match &statement["Resource"] {
            Value::Sequence(list) => list.iter().collect(),
            one => vec![one],
        };
        for resource in resources {
            if resource.as_str() == Some("*") {
                let actions: Vec<String> = match &statement["Action"] {
                    Value::Sequence(list) => list.iter().map(text).collect(),
                    one => vec![text(one)],
                };
                assert!(
                    actions.iter().all(|a| STAR_ONLY_ACTIONS.contains(&a.as_str())),
                    "{name} grants {actions:?} on every resource"
                );
            }
        }
    }
}

/// The dashboard's body with every `${...}` of its `!Sub` filled, parsed.
fn dashboard(template: &Value) -> serde_json::Value {
    let Value::Tagged(sub) = &resource(template, "Dashboard")["DashboardBody"] else { panic!("a !Sub") };
    let mut body = text(&sub.value);
    while let Some(start) = body.find("${") {
        let end = start + body[start..].find('}').unwrap();
        body.replace_range(start..=end, "placeholder");
    }
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{body}"))
}

#[test]
fn the_dashboard_and_alarms_use_only_metrics_the_functions_publish_in_their_namespace() {
    let template = template();
    let published: Vec<&str> = shared::metrics::Metric::ALL.iter().map(|m| m.name()).collect();
    let namespace = "GeminiWebhooks/${AWS::StackName}";
    for function in ["ReceiverFunction", "RecorderFunction", "FanoutFunction"] {
        let Value::Tagged(sub) =
            &resource(&template, function)["Environment"]["Variables"]["METRICS_NAMESPACE"]
        else {
            panic!("{function} sets METRICS_NAMESPACE with !Sub")
        };
        assert_eq!(text(&sub.value), namespace, "{function}");
    }
    let dashboard = dashboard(&template);
    let mut ours = 0;
    for widget in dashboard["widgets"].as_array().unwrap() {
        let mut current_namespace = String::new();
        for line in widget["properties"]["metrics"].as_array().unwrap() {
            let line = line.as_array().unwrap();
            if let Some(expression) = line[0]["expression"].as_str() {
                let name = expression.split("MetricName=\"").nth(1).unwrap().split('"').next().unwrap();
                assert!(published.contains(&name), "dashboard searches {name}");
                ours += 1;
                continue;
            }
            if line[0] != "." && line[0] != "..." {
                current_namespace = line[0].as_str().unwrap().to_owned();
            }
            if current_namespace.starts_with("GeminiWebhooks/") && line[0] != "..." {
                let name = line[1].as_str().unwrap();
                assert!(published.contains(&name), "the dashboard shows {name}, which no function publishes");
                ours += 1;
            }
        }
    }
    assert!(ours >= 12, "{ours}");
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        for metric in resource["Properties"]["Metrics"].as_sequence().into_iter().flatten() {
            let stat = &metric["MetricStat"]["Metric"];
            if let Value::Tagged(sub) = &stat["Namespace"] {
                assert_eq!(text(&sub.value), namespace, "{name:?}");
                let metric_name = text(&stat["MetricName"]);
                assert!(published.contains(&metric_name.as_str()), "{name:?} watches {metric_name}");
            }
        }
    }
}

#[test]
fn the_failure_modes_that_lose_the_most_events_are_alarmed() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let alarm_of = |name: &str| {
        let alarm = &template["Resources"][name];
        assert_eq!(alarm["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{name} is an alarm");
        alarm["Properties"].clone()
    };
    // A wrong or rotated-away secret: refusals while nothing is accepted.
    let wrong_secret = alarm_of("SignaturesRefusedAlarm");
    let expression =
        wrong_secret["Metrics"].as_sequence().unwrap().iter().find_map(|m| m["Expression"].as_str()).unwrap();
    assert!(
        expression.contains("mismatched") && expression.contains("FILL(accepted, 0) == 0"),
        "{expression}"
    );
    assert_eq!(text(&alarm_of("FanoutIteratorAgeAlarm")["MetricName"]), "IteratorAge");
    assert_eq!(text(&alarm_of("IngestQueueAgeAlarm")["MetricName"]), "ApproximateAgeOfOldestMessage");
    for function in ["Receiver", "Recorder", "Fanout", "Consumer"] {
        let alarm = alarm_of(&format!("{function}ErrorsOrThrottlesAlarm"));
        let metrics: Vec<String> = alarm["Metrics"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|m| !m["MetricStat"].is_null())
            .map(|m| text(&m["MetricStat"]["Metric"]["MetricName"]))
            .collect();
        assert_eq!(metrics, ["Errors", "Throttles"], "{function}");
    }
    // Every queue that keeps what failed has an alarm on its depth.
    for (name, resource) in resources {
        let name = name.as_str().unwrap();
        let kept = resource["Type"].as_str() == Some("AWS::SQS::Queue")
            && (name.ends_with("DLQ") || name == "QuarantineQueue");
        if kept {
            let alarm = alarm_of(&format!("{name}Alarm"));
            assert_eq!(get_att_target(&alarm["Dimensions"][0]["Value"]), name);
        }
    }
}

#[test]
fn a_flood_cannot_take_every_concurrent_execution_in_the_account() {
    let template = template();
    let receiver = resource(&template, "ReceiverFunction");
    assert!(!receiver["ReservedConcurrentExecutions"].is_null());
    for function in ["RecorderFunction", "ConsumerFunction"] {
        for (_, event) in resource(&template, function)["Events"].as_mapping().unwrap() {
            assert!(!event["Properties"]["ScalingConfig"]["MaximumConcurrency"].is_null(), "{function}");
        }
    }
}

#[test]
fn the_dashboard_picture_in_the_readme_was_rendered_from_this_definition() {
    let template = template();
    let Value::Tagged(sub) = &resource(&template, "Dashboard")["DashboardBody"] else { panic!("a !Sub") };
    let recorded =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/dashboard.png.sha256"))
            .unwrap();
    assert_eq!(
        shared::message::BodySha256::of(text(&sub.value).as_bytes()).as_str(),
        recorded.trim(),
        "the dashboard changed: run `make dashboard-image` and commit docs/dashboard.png"
    );
}

#[test]
fn every_output_the_cli_reads_is_declared() {
    let template = template();
    for output in gemini_webhooks::stack::outputs::all() {
        assert!(
            !template["Outputs"][output].is_null(),
            "template.yaml has no output {output}, which the CLI reads"
        );
    }
    let Value::Tagged(reference) = &template["Outputs"]["FanoutFunctionName"]["Value"] else {
        panic!("not a !Ref")
    };
    assert_eq!(
        (reference.tag.to_string(), text(&reference.value)),
        ("!Ref".to_owned(), "FanoutFunction".to_owned()),
        "replay --routes reads the routing from this function's configuration"
    );
}

#[test]
fn the_results_bucket_is_private_encrypted_and_written_by_the_consumer_alone() {
    let template = template();
    let bucket = resource(&template, "ResultsBucket");
    let encryption = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(text(&encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"]), "AES256");
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[setting].as_bool(), Some(true), "{setting}");
    }
    assert_eq!(text(&bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"]), "BucketOwnerEnforced");
    let policy = &resource(&template, "ResultsBucketPolicy")["PolicyDocument"]["Statement"][0];
    assert_eq!(
        (text(&policy["Effect"]), text(&policy["Condition"]["Bool"]["aws:SecureTransport"])),
        ("Deny".into(), "false".into())
    );

    let writers: Vec<(String, Value)> = statements(&template)
        .into_iter()
        .filter(|(_, statement)| format!("{:?}", statement["Resource"]).contains("ResultsBucket"))
        .collect();
    assert_eq!(writers.len(), 1, "{writers:?}");
    let (role, statement) = &writers[0];
    assert_eq!(role, "ConsumerRole");
    let actions: Vec<String> = statement["Action"].as_sequence().unwrap().iter().map(text).collect();
    assert_eq!(actions, ["s3:PutObject", "s3:AbortMultipartUpload"], "write only: no read, list or delete");
}

/// The README counts the alarms (and prices them by that count): the count is the template's.
#[test]
fn the_readme_counts_the_templates_alarms() {
    let template = template();
    let alarms = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .count();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for claim in [format!("({alarms} in all;"), format!("{alarms} CloudWatch alarms")] {
        assert!(readme.contains(&claim), "the README should say {claim:?}: the template has {alarms} alarms");
    }
}
