//! `template.yaml` against the code: the emulator harness creates what the template declares, every
//! function gets exactly the variables it reads, every alarm watches a metric the code emits, and what
//! the stack promises (your queues are yours, every silent loss is heard, no permission on `*`) holds.
//! Fails when either side drifts.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;
use shared::config::{FromVars, Variable};
use testkit::{
    CLAIMS_TABLE, CONSUMER_QUEUE, DLQ_RETENTION_SECS, EVENTS_TABLE, FANOUT_DLQ, INGEST_QUEUE,
    JOB_REQUESTS_QUEUE, JOBS_TABLE, JWT_TOKENS_TABLE, MAX_MESSAGE_BYTES, QUARANTINE_QUEUE, QueueSpec,
    ROUTED_QUEUES,
};

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn resources(template: &Value) -> impl Iterator<Item = (&str, &Value)> {
    template["Resources"].as_mapping().unwrap().iter().map(|(name, r)| (name.as_str().unwrap(), r))
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    let resource = &template["Resources"][name];
    assert!(!resource.is_null(), "template has no resource {name}");
    &resource["Properties"]
}

fn of_type<'a>(template: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    resources(template).filter(move |(_, r)| r["Type"].as_str() == Some(kind))
}

/// A scalar as text, whether YAML wrote it as a number or a string.
fn text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn tag_of(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((tagged.tag.to_string(), &tagged.value)),
        _ => None,
    }
}

/// `Foo` for `!GetAtt Foo.Arn` (the tag keeps its argument).
fn get_att_target(value: &Value) -> String {
    let (tag, argument) = tag_of(value).unwrap_or_else(|| panic!("not a tag: {value:?}"));
    assert_eq!(tag, "!GetAtt");
    text(argument).split('.').next().unwrap().to_owned()
}

/// `Foo` for `!Ref Foo`.
fn ref_target(value: &Value) -> Option<String> {
    tag_of(value).filter(|(tag, _)| tag == "!Ref").map(|(_, argument)| text(argument))
}

/// `JobRequestsQueue` for `job-requests`.
fn logical_queue(spec: &QueueSpec) -> String {
    let words = spec.name.split('-').map(|word| {
        let mut word = word.to_owned();
        word[..1].make_ascii_uppercase();
        word
    });
    format!("{}Queue", words.collect::<String>())
}

/// The template's conditions, evaluated for a set of parameter values (the defaults, and overrides).
struct Deployment<'t> {
    template: &'t Value,
    parameters: BTreeMap<String, String>,
}

impl<'t> Deployment<'t> {
    fn with(template: &'t Value, overrides: &[(&str, &str)]) -> Self {
        let mut parameters: BTreeMap<String, String> = template["Parameters"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(name, p)| {
                (text(name), if p["Default"].is_null() { String::new() } else { text(&p["Default"]) })
            })
            .collect();
        for (name, value) in overrides {
            assert!(parameters.contains_key(*name), "no parameter {name}");
            parameters.insert((*name).into(), (*value).into());
        }
        Self { template, parameters }
    }

    fn value(&self, value: &Value) -> String {
        match tag_of(value) {
            Some((tag, name)) if tag == "!Ref" => self.parameters[&text(name)].clone(),
            Some((tag, args)) if tag == "!Join" => self.list(&args[1]).join(&text(&args[0])),
            Some((tag, _)) => panic!("no evaluation of {tag}"),
            None => text(value),
        }
    }

    /// A list: written out, a `!Split`, or a list parameter's value.
    fn list(&self, value: &Value) -> Vec<String> {
        match (value, tag_of(value)) {
            (Value::Sequence(items), _) => items.iter().map(|i| self.value(i)).collect(),
            (_, Some((tag, args))) if tag == "!Split" => {
                self.value(&args[1]).split(text(&args[0]).as_str()).map(str::to_owned).collect()
            }
            _ => self.value(value).split(',').map(str::to_owned).collect(),
        }
    }

    fn holds(&self, condition: &Value) -> bool {
        let (tag, args) = tag_of(condition).unwrap_or_else(|| panic!("not a condition: {condition:?}"));
        match tag.as_str() {
            "!Equals" => self.value(&args[0]) == self.value(&args[1]),
            "!Not" => !self.holds(&args[0]),
            "!And" => args.as_sequence().unwrap().iter().all(|c| self.holds(c)),
            "!Or" => args.as_sequence().unwrap().iter().any(|c| self.holds(c)),
            "!Condition" => self.condition(&text(args)),
            other => panic!("no evaluation of {other}"),
        }
    }

    fn condition(&self, name: &str) -> bool {
        let condition = &self.template["Conditions"][name];
        assert!(!condition.is_null(), "no condition {name}");
        self.holds(condition)
    }

    /// Whether the resource is created.
    fn creates(&self, resource: &Value) -> bool {
        resource["Condition"].as_str().is_none_or(|c| self.condition(c))
    }
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
fn the_jobs_ledger_matches_the_harness_and_is_there_by_default() {
    let template = template();
    let table = resource(&template, "JobsTable");
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some(JOBS_TABLE.partition_key));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(JOBS_TABLE.ttl_attribute));
    assert!(Deployment::with(&template, &[]).condition("HasLedger"));
    let off = Deployment::with(&template, &[("JobsLedger", "false")]);
    for name in ["JobsTable", "ReconcilerFunction", "ScheduleGroup", "SchedulerRole", "ReconciledEndsAlarm"] {
        assert!(!off.creates(&template["Resources"][name]), "{name} goes with JobsLedger=false");
    }
    assert!(!off.condition("UseStackApiKey"), "nor is an API key secret made for it");
    let variable = &resource(&template, "RecorderFunction")["Environment"]["Variables"]["JOBS_TABLE"];
    let (tag, args) = tag_of(variable).unwrap();
    assert_eq!((tag.as_str(), args[0].as_str()), ("!If", Some("HasLedger")));
}

/// The actions and resources of one role's statements, by `Sid`.
fn grants(template: &Value, role: &str) -> BTreeMap<String, (Vec<String>, Value)> {
    statements(template)
        .into_iter()
        .filter(|(name, _)| name == role)
        .map(|(_, s)| {
            (text(&s["Sid"]), (listed(&s["Action"]).iter().map(text).collect(), s["Resource"].clone()))
        })
        .collect()
}

#[test]
fn the_fanout_sends_to_the_stack_s_queues_and_the_targets_it_is_given_alone() {
    let template = template();
    let fanout = grants(&template, "FanoutRole");
    let sids: Vec<&str> = fanout.keys().map(String::as_str).collect();
    assert_eq!(
        sids,
        [
            "CompleteWorkflowsWaitingOnJobs",
            "DeadLetterAndOnFailureDestination",
            "PutOnExtraRouteBuses",
            "ReadTheTablesStream",
            "SendToExtraRoutes",
            "SendToRoutedQueuesOnly",
            "SendToTheExampleConsumersQueue",
            "SendTraceSegments",
            "WriteItsOwnLogs"
        ]
    );
    // Buses: PutEvents on the ones named, only when some are.
    let (actions, buses) = &fanout["PutOnExtraRouteBuses"];
    assert_eq!(actions.as_slice(), ["events:PutEvents"]);
    assert_eq!(ref_target(buses).as_deref(), Some("ExtraRouteBusArns"));
    let fanout_policy = &resource(&template, "FanoutRole")["Policies"][0]["PolicyDocument"]["Statement"];
    let guarded = fanout_policy.as_sequence().unwrap().iter().any(|statement| {
        tag_of(statement).is_some_and(|(tag, args)| {
            tag == "!If"
                && args[0].as_str() == Some("HasExtraRouteBuses")
                && text(&args[1]["Sid"]) == "PutOnExtraRouteBuses"
        })
    });
    assert!(guarded, "no bus named, no events:PutEvents at all");
    let (actions, _) = &fanout["CompleteWorkflowsWaitingOnJobs"];
    assert_eq!(actions.as_slice(), ["states:SendTaskSuccess", "states:SendTaskFailure"]);
    let callbacks_guarded = fanout_policy.as_sequence().unwrap().iter().any(|statement| {
        tag_of(statement).is_some_and(|(tag, args)| {
            tag == "!If"
                && args[0].as_str() == Some("HasWorkflowCallbacks")
                && text(&args[1]["Sid"]) == "CompleteWorkflowsWaitingOnJobs"
        })
    });
    assert!(callbacks_guarded, "no workflows, no Step Functions permission at all");
}

#[test]
fn the_ledger_s_roles_grant_exactly_what_closing_checking_and_scheduling_need() {
    let template = template();
    // The recorder: close an entry, nothing more of the ledger.
    let recorder = grants(&template, "RecorderRole");
    let close = &recorder["CloseTrackedJobs"];
    assert_eq!(
        (close.0.as_slice(), get_att_target(&close.1)),
        (&["dynamodb:UpdateItem".to_owned()][..], "JobsTable".to_owned())
    );

    let reconciler = grants(&template, "ReconcilerRole");
    let sids: Vec<&str> = reconciler.keys().map(String::as_str).collect();
    assert_eq!(
        sids,
        [
            "DeliverReconciledEnds",
            "HandTheCheckItsRole",
            "ReadAndCheckTrackedJobs",
            "ReadTheGeminiApiKey",
            "ScheduleTheNextCheck",
            "SendTraceSegments",
            "WriteItsOwnLogs"
        ]
    );
    let (actions, table) = &reconciler["ReadAndCheckTrackedJobs"];
    assert_eq!(
        (actions.as_slice(), get_att_target(table)),
        (&["dynamodb:GetItem".to_owned(), "dynamodb:UpdateItem".to_owned()][..], "JobsTable".to_owned())
    );
    let (actions, queue) = &reconciler["DeliverReconciledEnds"];
    assert_eq!(
        (actions.as_slice(), get_att_target(queue)),
        (&["sqs:SendMessage".to_owned()][..], "IngestQueue".to_owned())
    );
    let (actions, schedules) = &reconciler["ScheduleTheNextCheck"];
    assert_eq!(actions.as_slice(), ["scheduler:CreateSchedule"]);
    let (tag, pattern) = tag_of(schedules).unwrap();
    assert_eq!(tag, "!Sub");
    assert!(text(pattern).ends_with(":schedule/${ScheduleGroup}/*"), "its own group's schedules alone");
    let pass = statements(&template)
        .into_iter()
        .find(|(role, s)| role == "ReconcilerRole" && text(&s["Sid"]) == "HandTheCheckItsRole")
        .unwrap()
        .1;
    assert_eq!(get_att_target(&pass["Resource"]), "SchedulerRole");
    assert_eq!(text(&pass["Condition"]["StringEquals"]["iam:PassedToService"]), "scheduler.amazonaws.com");

    // The schedules' role: assumed by EventBridge Scheduler in this account, invoking the reconciler alone.
    let role = resource(&template, "SchedulerRole");
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(text(&trust["Principal"]["Service"]), "scheduler.amazonaws.com");
    assert!(!trust["Condition"]["StringEquals"]["aws:SourceAccount"].is_null(), "no confused deputy");
    let invoke = grants(&template, "SchedulerRole");
    let (actions, function) = &invoke["InvokeTheReconciler"];
    assert_eq!(
        (actions.as_slice(), get_att_target(function)),
        (&["lambda:InvokeFunction".to_owned()][..], "ReconcilerFunction".to_owned())
    );
    assert_eq!(invoke.len(), 1);
}

#[test]
fn the_starter_is_opt_in_and_allowed_only_what_it_calls() {
    let template = template();
    // Nothing of it at the defaults: a feature costs nothing for those who do not use it.
    let defaults = Deployment::with(&template, &[]);
    for name in ["StarterFunction", "JobRequestsQueue", "ChainedWorkflowStateMachine"] {
        assert!(!defaults.creates(&template["Resources"][name]), "{name} at the defaults");
    }
    let starter = Deployment::with(&template, &[("WorkflowStarter", "true")]);
    assert!(starter.creates(&template["Resources"]["StarterFunction"]));
    assert!(starter.condition("HasWorkflowCallbacks"), "its jobs' ends complete their tasks");
    assert!(starter.creates(&template["Resources"]["ClaimsTable"]), "it claims each task");
    let without_ledger = Deployment::with(&template, &[("WorkflowStarter", "true"), ("JobsLedger", "false")]);
    assert!(!without_ledger.condition("HasStarter"), "no ledger, no token to complete");
    let chained =
        [("WorkflowStarter", "true"), ("ChainedWorkflow", "true"), ("DeployExampleConsumer", "true")];
    assert!(
        Deployment::with(&template, &chained).creates(resource(&template, "ChainedWorkflowStateMachine"))
    );

    let grants = grants(&template, "StarterRole");
    let sids: Vec<&str> = grants.keys().map(String::as_str).collect();
    assert_eq!(
        sids,
        [
            "ClaimEachTaskOnce",
            "ConsumeItsOwnQueue",
            "FailTasksWhoseJobCannotStart",
            "HandTheCheckItsRole",
            "KeepRequestsNamingNoTask",
            "ReadTheGeminiApiKey",
            "ReadTheUrlToken",
            "ScheduleTheFirstCheck",
            "SendTraceSegments",
            "TrackStartedJobs",
            "WriteItsOwnLogs"
        ]
    );
    let target = |sid: &str| get_att_target(&grants[sid].1);
    assert_eq!(
        (grants["TrackStartedJobs"].0.as_slice(), target("TrackStartedJobs")),
        (&["dynamodb:PutItem".to_owned()][..], "JobsTable".into())
    );
    assert_eq!(target("KeepRequestsNamingNoTask"), "JobRequestsDLQ");
    assert_eq!(grants["FailTasksWhoseJobCannotStart"].0, ["states:SendTaskFailure"], "never SendTaskSuccess");
    // Its claims, in its own namespace of the shared claims table.
    let claim = statements(&template)
        .into_iter()
        .find(|(role, s)| role == "StarterRole" && text(&s["Sid"]) == "ClaimEachTaskOnce")
        .unwrap()
        .1;
    let leading = listed(&claim["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
    assert_eq!(leading.iter().map(text).collect::<Vec<_>>(), [format!("{}#*", starter::NAMESPACE)]);

    // Its timeout, its claims' lease and its queue's visibility add up: a claim outlasts the invocation
    // holding it and has lapsed when a request whose invocation died comes back.
    let function = resource(&template, "StarterFunction");
    let timeout: u64 = text(&function["Timeout"]).parse().unwrap();
    assert_eq!(timeout, starter::FUNCTION_TIMEOUT_SECS);
    let visibility: u64 =
        text(&resource(&template, "JobRequestsQueue")["VisibilityTimeout"]).parse().unwrap();
    assert!(starter::FUNCTION_TIMEOUT_SECS < visibility - timeout);
    let kept: u64 = text(&resource(&template, "JobRequestsDLQ")["MessageRetentionPeriod"]).parse().unwrap();
    assert!(starter::KEEP_SECS >= kept, "a started task is remembered while its request can be redriven");
}

#[test]
fn the_chained_workflow_is_the_repository_s_file_sending_only_to_the_job_requests_queue() {
    let template = template();
    let machine = resource(&template, "ChainedWorkflowStateMachine");
    let path = text(&machine["DefinitionUri"]);
    let definition: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        definition.to_string(),
        serde_json::from_str::<serde_json::Value>(local_stack::workflow::DEFINITION).unwrap().to_string(),
        "the tests run the file the template deploys"
    );
    let substituted: BTreeSet<String> =
        machine["DefinitionSubstitutions"].as_mapping().unwrap().keys().map(text).collect();
    let mut used = BTreeSet::new();
    for (name, state) in definition["States"].as_object().unwrap() {
        assert_eq!(
            state["Resource"], "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "{name} waits, never polls"
        );
        assert_eq!(state["Parameters"]["MessageBody"]["task_token.$"], "$$.Task.Token", "{name}");
        assert!(
            state["TimeoutSeconds"].as_u64().is_some(),
            "{name} is bounded: a lost end cannot hold it forever"
        );
        let queue = state["Parameters"]["QueueUrl"].as_str().unwrap();
        used.insert(queue.trim_start_matches("${").trim_end_matches('}').to_owned());
    }
    assert_eq!(used, substituted);
    assert_eq!(
        ref_target(&machine["DefinitionSubstitutions"]["JobRequestsQueueUrl"]).as_deref(),
        Some("JobRequestsQueue")
    );
    let role = grants(&template, "ChainedWorkflowRole");
    assert_eq!(role.len(), 1);
    let (actions, queue) = &role["RequestJobs"];
    assert_eq!(
        (actions.as_slice(), get_att_target(queue)),
        (&["sqs:SendMessage".to_owned()][..], "JobRequestsQueue".into())
    );
}

#[test]
fn the_jwt_ledger_matches_the_harness_and_exists_exactly_when_jwt_is_accepted() {
    let template = template();
    let table = resource(&template, "JwtTokensTable");
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some(JWT_TOKENS_TABLE.partition_key));
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(JWT_TOKENS_TABLE.ttl_attribute)
    );
    for (schemes, accepted) in [("v1,v1a", false), ("v1", false), ("v1,v1a,jwt", true), ("jwt", true)] {
        let deployment = Deployment::with(&template, &[("AcceptedSchemes", schemes)]);
        assert_eq!(deployment.condition("AcceptsJwt"), accepted, "{schemes}");
    }
    let variable = &resource(&template, "ReceiverFunction")["Environment"]["Variables"]["JWT_TOKENS_TABLE"];
    let (tag, args) = tag_of(variable).unwrap();
    assert_eq!((tag.as_str(), args[0].as_str()), ("!If", Some("AcceptsJwt")));
}

#[test]
fn every_queue_matches_the_harness_and_redrives_to_its_own_dlq() {
    let template = template();
    for spec in [&INGEST_QUEUE, &CONSUMER_QUEUE, &JOB_REQUESTS_QUEUE].into_iter().chain(&ROUTED_QUEUES) {
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
fn every_store_that_holds_events_or_secrets_outlives_the_stack_and_its_replacements() {
    let template = template();
    for (logical, spec) in [("QuarantineQueue", QUARANTINE_QUEUE), ("FanoutDLQ", FANOUT_DLQ)] {
        let queue = resource(&template, logical);
        assert_eq!(text(&queue["MessageRetentionPeriod"]), spec.retention_secs.to_string(), "{logical}");
        assert!(queue["RedrivePolicy"].is_null(), "{logical} is where things end up: no DLQ of its own");
    }
    let stores =
        ["AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"];
    let mut checked = 0;
    for (name, resource) in resources(&template) {
        // Hashes of verified JWTs, held until they expire: no event, no secret.
        if name == "JwtTokensTable" {
            assert!(resource["DeletionPolicy"].is_null(), "{name} goes with the stack");
            continue;
        }
        if stores.contains(&resource["Type"].as_str().unwrap()) {
            checked += 1;
            assert_eq!(resource["DeletionPolicy"].as_str(), Some("Retain"), "{name}");
            assert_eq!(resource["UpdateReplacePolicy"].as_str(), Some("Retain"), "{name}");
        }
    }
    assert_eq!(checked, 22, "every queue, table, bucket and secret");
}

#[test]
fn every_queue_takes_the_largest_message_the_size_budget_assumes() {
    let template = template();
    let mut queues = 0;
    for (name, resource) in of_type(&template, "AWS::SQS::Queue") {
        queues += 1;
        let size = text(&resource["Properties"]["MaximumMessageSize"]);
        assert_eq!(size, MAX_MESSAGE_BYTES.to_string(), "{name}");
    }
    assert_eq!(queues, 16);
    let receiver = &resource(&template, "ReceiverFunction")["Environment"]["Variables"];
    let max_body: usize = text(&receiver["MAX_BODY_BYTES"]).parse().unwrap();
    assert_eq!(max_body, shared::limits::DEFAULT_MAX_BODY_BYTES);
}

/// Every event source mapping the template declares: (function, its event, the queue or table it reads).
fn mappings(template: &Value) -> Vec<(String, Value, String)> {
    let mut found = Vec::new();
    for (function, resource) in of_type(template, "AWS::Serverless::Function") {
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            let properties = &event["Properties"];
            let source = if event["Type"] == "SQS" { &properties["Queue"] } else { &properties["Stream"] };
            found.push((function.to_owned(), event.clone(), get_att_target(source)));
        }
    }
    found
}

#[test]
fn no_queue_the_stack_creates_has_two_readers_and_nothing_of_ours_reads_yours() {
    let template = template();
    let mappings = mappings(&template);
    let mut readers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (function, _, source) in &mappings {
        readers.entry(source).or_default().push(function);
    }
    for (source, functions) in &readers {
        assert_eq!(functions.len(), 1, "{source} is read by {functions:?}: each would get about half");
    }
    for spec in &ROUTED_QUEUES {
        let queue = logical_queue(spec);
        assert!(
            !readers.contains_key(queue.as_str()),
            "{queue} is the user's, but {:?} reads it",
            readers[&*queue]
        );
    }
    assert_eq!(readers["ConsumerQueue"], ["ConsumerFunction"], "the example consumer reads its own queue");
}

#[test]
fn each_sqs_trigger_s_queue_hides_a_message_for_six_times_its_function_s_timeout() {
    let template = template();
    for (function, event, queue) in mappings(&template).into_iter().filter(|(_, e, _)| e["Type"] == "SQS") {
        let timeout: u64 = text(&resource(&template, &function)["Timeout"]).parse().unwrap();
        let visibility: u64 = text(&resource(&template, &queue)["VisibilityTimeout"]).parse().unwrap();
        assert!(
            visibility >= 6 * timeout,
            "{queue}: {visibility} s for {function}'s {timeout} s ({event:?})"
        );
    }
}

#[test]
fn the_example_consumers_batch_timeout_and_lease_add_up() {
    let template = template();
    let function = resource(&template, "ConsumerFunction");
    let timeout: u64 = text(&function["Timeout"]).parse().unwrap();
    assert_eq!(timeout, consumer::FUNCTION_TIMEOUT_SECS, "the code's idea of its timeout is the template's");
    let visibility: u64 = text(&resource(&template, "ConsumerQueue")["VisibilityTimeout"]).parse().unwrap();
    let batch_size: u64 = text(&function["Events"]["Jobs"]["Properties"]["BatchSize"]).parse().unwrap();

    // A follow-up, and marking it done, end before the function's timeout: it never dies mid-record.
    let longest = (consumer::FOLLOW_UP_LIMIT + consumer::FINISH_MARGIN).as_secs();
    assert!(longest < timeout, "{longest} s of work in a {timeout} s function");
    // Each record gets its whole limit: records are handled in turn, so every one of a batch fits.
    assert!(batch_size * longest <= timeout, "a batch of {batch_size} could not all be started");
    // The claim outlasts any invocation holding it, and has lapsed when a record whose invocation died
    // becomes visible again.
    assert!(consumer::LEASE_SECS >= timeout);
    assert!(
        consumer::LEASE_SECS < visibility - timeout,
        "lease {} s, visibility {visibility} s",
        consumer::LEASE_SECS
    );
}

fn environment(template: &Value, function: &str) -> BTreeSet<String> {
    let variables =
        resource(template, function)["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    let globals =
        template["Globals"]["Function"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    variables.keys().chain(globals.keys()).map(|k| k.as_str().unwrap().to_owned()).collect()
}

/// Variables read by the libraries every function links, not by its configuration: the log filter
/// (`shared::logging`) and the trust store's file (rustls-native-certs, for every TLS client).
const READ_BY_LIBRARIES: [&str; 2] = ["RUST_LOG", "SSL_CERT_FILE"];

/// The function's variables, as its configuration reads them (`FromVars::variables`).
fn assert_variables(template: &Value, function: &str, read: &[Variable]) {
    let set = environment(template, function);
    for variable in &set {
        assert!(
            read.iter().any(|v| v.name == variable) || READ_BY_LIBRARIES.contains(&variable.as_str()),
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
    assert_variables(&template, "ReconcilerFunction", &reconciler::Config::variables());
    assert_variables(&template, "StarterFunction", &starter::Config::variables());
}

/// The fanout's `ROUTES` as deployed: `consumer` says whether the example consumer is.
fn routes(template: &Value, consumer: bool) -> shared::routing::Routes {
    let routes = &resource(template, "FanoutFunction")["Environment"]["Variables"]["ROUTES"];
    let (_, sub) = tag_of(routes).expect("ROUTES is a !Sub");
    let url = |name: &str| format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}");
    let consumer_part = if consumer { format!(",\"{}\"", url("Consumer")) } else { String::new() };
    let filled = ["Batch", "Interaction", "Video"]
        .iter()
        .fold(text(&sub[0]), |json, name| json.replace(&format!("${{{name}}}"), &url(name)))
        .replace("${Consumer}", &consumer_part)
        .replace("${Extra}", "");
    shared::routing::Routes::parse(Some(&filled), url("Default")).unwrap()
}

#[test]
fn the_routes_cover_every_family_and_the_example_consumer_gets_copies_never_the_only_one() {
    let template = template();
    for consumer in [false, true] {
        let routes = routes(&template, consumer);
        for (event_type, _) in shared::EventKind::CATALOG {
            let destinations = routes.destinations(event_type, None);
            assert!(!destinations.by_default, "{event_type} has a route");
            let family = event_type.split('.').next().unwrap();
            let yours = destinations.targets.iter().filter(|q| !q.ends_with("/Consumer")).count();
            assert_eq!(yours, 1, "{event_type} reaches its {family} queue");
            assert_eq!(
                destinations.targets.iter().any(|q| q.ends_with("/Consumer")),
                consumer,
                "{event_type}"
            );
        }
        assert!(routes.destinations("model.tuned", None).by_default, "unknown types go to the default queue");
    }
    let (_, sub) =
        tag_of(&resource(&template, "FanoutFunction")["Environment"]["Variables"]["ROUTES"]).unwrap();
    let consumer = &sub[1]["Consumer"];
    assert_eq!(tag_of(consumer).unwrap().1[0].as_str(), Some("DeployConsumer"), "only when it is deployed");
}

#[test]
fn functions_are_built_with_cargo_lambda_for_al2023() {
    let template = template();
    assert_eq!(template["Globals"]["Function"]["Runtime"].as_str(), Some("provided.al2023"));
    // AL2023's one bundle of the system's roots: the TLS clients read it alone, not the certificate
    // directories' copies of the same roots besides (docs/performance-and-cost.md, "The trust store").
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(globals["SSL_CERT_FILE"].as_str(), Some("/etc/pki/tls/certs/ca-bundle.crt"));
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
    for (name, resource) in resources(template) {
        let policies = &resource["Properties"]["Policies"];
        for policy in policies.as_sequence().into_iter().flatten() {
            let document =
                if policy["PolicyDocument"].is_null() { policy } else { &policy["PolicyDocument"] };
            for statement in document["Statement"].as_sequence().into_iter().flatten() {
                // A conditional statement (`!If [Cond, statement, !Ref AWS::NoValue]`): its statement.
                let statement = match tag_of(statement) {
                    Some((tag, args)) if tag == "!If" => args[1].clone(),
                    _ => statement.clone(),
                };
                found.push((name.to_owned(), statement));
            }
        }
    }
    found
}

fn listed(value: &Value) -> Vec<Value> {
    match value {
        Value::Sequence(list) => list.clone(),
        one => vec![one.clone()],
    }
}

/// Actions AWS grants only on `"*"`: a statement on `"*"` fails the test below unless its action is
/// listed here, with the reason. Step Functions' callbacks take no resource (the task token is the
/// capability: only its holder can complete its task): the fanout holds only the tokens the jobs
/// ledger gave it (granted with `WorkflowCallbacks` or `WorkflowStarter`), the starter only those its
/// requests carry (`SendTaskFailure` alone, to fail a task whose job cannot start). X-Ray's segment
/// uploads take no resource either, and are granted only with `Tracing=Active`.
const STAR_ONLY_ACTIONS: &[&str] = &[
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

#[test]
fn every_function_has_its_own_role_its_own_logs_and_no_permission_on_everything() {
    let template = template();
    let mut functions = 0;
    for (name, resource) in of_type(&template, "AWS::Serverless::Function") {
        functions += 1;
        let stem = name.trim_end_matches("Function");
        // Without an explicit role SAM creates one and, for SQS and stream triggers, attaches
        // AWSLambdaSQSQueueExecutionRole / AWSLambdaDynamoDBExecutionRole: receive and delete on every
        // queue in the account, read every stream.
        let role = &resource["Properties"]["Role"];
        assert!(!role.is_null(), "{name} has no role of its own, so SAM would attach its managed policies");
        assert_eq!(get_att_target(role), format!("{stem}Role"), "{name}");
        assert!(resource["Properties"]["Policies"].is_null(), "{name}: permissions belong on its role");
        // Its log group: declared (so it has a retention and goes with the stack), its own.
        let group = format!("{stem}LogGroup");
        assert_eq!(
            ref_target(&resource["Properties"]["LoggingConfig"]["LogGroup"]),
            Some(group.clone()),
            "{name}"
        );
        let declared = &template["Resources"][&group];
        assert_eq!(declared["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{group}");
        assert_eq!(
            ref_target(&declared["Properties"]["RetentionInDays"]).as_deref(),
            Some("LogRetentionDays")
        );
        assert_eq!(declared["Condition"], resource["Condition"], "{group} exists exactly when {name} does");
        let writes: Vec<Value> = statements(&template)
            .into_iter()
            .filter(|(role, s)| {
                *role == format!("{stem}Role")
                    && listed(&s["Action"]).iter().any(|a| text(a).starts_with("logs:"))
            })
            .map(|(_, s)| s)
            .collect();
        assert_eq!(writes.len(), 1, "{name}: one statement for its logs");
        assert_eq!(get_att_target(&writes[0]["Resource"]), group, "{name} writes its own log group alone");
        let actions: Vec<String> = listed(&writes[0]["Action"]).iter().map(text).collect();
        assert_eq!(actions, ["logs:CreateLogStream", "logs:PutLogEvents"]);
    }
    assert_eq!(functions, 6);
    for (name, resource) in of_type(&template, "AWS::IAM::Role") {
        assert!(
            resource["Properties"]["ManagedPolicyArns"].is_null(),
            "{name} attaches a managed policy: AWS's grant logs:* on `*`; its statements are checked here"
        );
    }
    let all = statements(&template);
    assert_eq!(all.len(), 46, "every statement of the eight roles is checked");
    for (name, statement) in all {
        for resource in listed(&statement["Resource"]) {
            if resource.as_str() == Some("*") {
                let actions: Vec<String> = listed(&statement["Action"]).iter().map(text).collect();
                assert!(
                    actions.iter().all(|a| STAR_ONLY_ACTIONS.contains(&a.as_str())),
                    "{name} grants {actions:?} on every resource"
                );
            }
        }
    }
}

#[test]
fn active_tracing_is_one_parameter_off_by_default_and_lets_each_function_send_only_its_segments() {
    let template = template();
    let parameter = &template["Parameters"]["Tracing"];
    assert_eq!(parameter["Default"].as_str(), Some("PassThrough"), "nothing recorded, nothing billed");
    assert_eq!(ref_target(&template["Globals"]["Function"]["Tracing"]).as_deref(), Some("Tracing"));
    let condition = &template["Conditions"]["ActiveTracing"];
    let (tag, args) = tag_of(condition).expect("!Equals");
    assert_eq!(tag, "!Equals");
    assert_eq!((ref_target(&args[0]).as_deref(), args[1].as_str()), (Some("Tracing"), Some("Active")));
    let functions: BTreeSet<String> = of_type(&template, "AWS::Serverless::Function")
        .map(|(name, _)| format!("{}Role", name.trim_end_matches("Function")))
        .collect();
    let mut tracing_roles = BTreeSet::new();
    for (name, resource) in resources(&template) {
        let policies = &resource["Properties"]["Policies"];
        for policy in policies.as_sequence().into_iter().flatten() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten() {
                let (conditional, statement) = match tag_of(statement) {
                    Some((tag, args)) if tag == "!If" => {
                        (args[0].as_str().map(str::to_owned), args[1].clone())
                    }
                    _ => (None, statement.clone()),
                };
                let actions: Vec<String> = listed(&statement["Action"]).iter().map(text).collect();
                if actions.iter().any(|a| a.starts_with("xray:")) {
                    assert_eq!(
                        conditional.as_deref(),
                        Some("ActiveTracing"),
                        "{name} may send traces always"
                    );
                    assert_eq!(actions, ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "{name}");
                    tracing_roles.insert(name.to_owned());
                }
            }
        }
    }
    assert_eq!(tracing_roles, functions, "each function's role, and no other, may send its segments");
}

/// The dashboard's body with every `${...}` filled (its own variables with the consumer deployed),
/// parsed.
fn dashboard(template: &Value) -> serde_json::Value {
    let (_, sub) = tag_of(&resource(template, "Dashboard")["DashboardBody"]).expect("a !Sub");
    let mut body = text(&sub[0]);
    for (name, value) in sub[1].as_mapping().unwrap() {
        let (tag, args) = tag_of(value).unwrap();
        assert_eq!(tag, "!If");
        let deployed = tag_of(&args[1]).map_or_else(|| text(&args[1]), |(_, inner)| text(inner));
        body = body.replace(&format!("${{{}}}", text(name)), &deployed);
    }
    while let Some(start) = body.find("${") {
        let end = start + body[start..].find('}').unwrap();
        body.replace_range(start..=end, "placeholder");
    }
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{body}"))
}

/// What the functions can emit, by metric: the name, and each dimension (other than `Function`) with
/// the values the code gives it (`None`: any, such as a queue's name).
fn emitted() -> BTreeMap<&'static str, BTreeMap<&'static str, Option<Vec<&'static str>>>> {
    let mut emitted: BTreeMap<_, BTreeMap<_, _>> =
        shared::metrics::Metric::ALL.iter().map(|m| (m.name(), BTreeMap::new())).collect();
    let classes = receiver::RefusalClass::ALL.iter().map(|c| c.as_str()).collect();
    emitted.get_mut("Rejected").unwrap().insert("class", Some(classes));
    emitted.get_mut("Rejected").unwrap().insert("reason", None);
    emitted.get_mut("FannedOut").unwrap().insert("queue", None);
    let refreshed = vec![
        shared::signature::SIGNING_SECRETS.replace(' ', "_").leak() as &str,
        shared::keys::SIGNING_KEYS.replace(' ', "_").leak(),
    ];
    emitted.get_mut("RefreshFailed").unwrap().insert("what", Some(refreshed));
    emitted
}

/// A metric an alarm watches: (alarm, namespace, metric name, dimensions by name).
type Watched = (String, Value, String, Vec<(String, Value)>);

/// Every metric an alarm watches.
fn watched(template: &Value) -> Vec<Watched> {
    let mut found = Vec::new();
    for (name, alarm) in of_type(template, "AWS::CloudWatch::Alarm") {
        let properties = &alarm["Properties"];
        let dimensions = |list: &Value| -> Vec<(String, Value)> {
            list.as_sequence().into_iter().flatten().map(|d| (text(&d["Name"]), d["Value"].clone())).collect()
        };
        if !properties["MetricName"].is_null() {
            let metric = (properties["Namespace"].clone(), text(&properties["MetricName"]));
            found.push((name.to_owned(), metric.0, metric.1, dimensions(&properties["Dimensions"])));
        }
        for metric in properties["Metrics"].as_sequence().into_iter().flatten() {
            let metric = match tag_of(metric) {
                Some((tag, args)) if tag == "!If" => &args[1],
                _ => metric,
            };
            let stat = &metric["MetricStat"]["Metric"];
            if !stat.is_null() {
                found.push((
                    name.to_owned(),
                    stat["Namespace"].clone(),
                    text(&stat["MetricName"]),
                    dimensions(&stat["Dimensions"]),
                ));
            }
        }
    }
    found
}

fn is_ours(namespace: &Value) -> bool {
    tag_of(namespace).is_some_and(|(_, argument)| text(argument) == "GeminiWebhooks/${AWS::StackName}")
}

#[test]
fn every_alarm_and_the_dashboard_watch_a_metric_the_code_emits_under_the_name_it_emits() {
    let template = template();
    let emitted = emitted();
    for function in ["ReceiverFunction", "RecorderFunction", "FanoutFunction"] {
        let namespace = &resource(&template, function)["Environment"]["Variables"]["METRICS_NAMESPACE"];
        assert!(is_ours(namespace), "{function} sets METRICS_NAMESPACE to the stack's namespace");
    }
    let mut ours = 0;
    for (alarm, namespace, metric, dimensions) in watched(&template) {
        if !is_ours(&namespace) {
            assert!(text(&namespace).starts_with("AWS/"), "{alarm}: {namespace:?}");
            continue;
        }
        ours += 1;
        let known = emitted
            .get(metric.as_str())
            .unwrap_or_else(|| panic!("{alarm} watches {metric}, which nothing emits"));
        let mut names: Vec<&str> = dimensions.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.remove(0), "Function", "{alarm}");
        assert!(names.len() <= 1, "{alarm}: the code emits one dimension per metric beside Function");
        for (dimension, value) in dimensions.iter().skip(1) {
            let values = known
                .get(dimension.as_str())
                .unwrap_or_else(|| panic!("{alarm}: {metric} has no {dimension}"));
            if let Some(values) = values {
                assert!(
                    values.contains(&text(value).as_str()),
                    "{alarm}: {metric} is never emitted with {dimension}={value:?}"
                );
            }
        }
    }
    assert!(ours >= 4, "{ours}");

    let dashboard = dashboard(&template);
    let mut shown = 0;
    for widget in dashboard["widgets"].as_array().unwrap() {
        let mut current_namespace = String::new();
        for line in widget["properties"]["metrics"].as_array().unwrap() {
            let line = line.as_array().unwrap();
            if let Some(expression) = line[0]["expression"].as_str() {
                let name = expression.split("MetricName=\"").nth(1).unwrap().split('"').next().unwrap();
                if expression.contains("GeminiWebhooks/") {
                    assert!(emitted.contains_key(name), "the dashboard searches {name}");
                    let dimension = expression.split(",Function,").nth(1).unwrap().split('}').next().unwrap();
                    assert!(emitted[name].contains_key(dimension), "{name} is never emitted by {dimension}");
                    shown += 1;
                }
                continue;
            }
            if line[0] != "." && line[0] != "..." {
                current_namespace = line[0].as_str().unwrap().to_owned();
            }
            if current_namespace.starts_with("GeminiWebhooks/") && line[0] != "..." {
                let name = line[1].as_str().unwrap();
                assert!(
                    emitted.contains_key(name),
                    "the dashboard shows {name}, which no function publishes"
                );
                shown += 1;
            }
        }
    }
    assert!(shown >= 12, "{shown}");
}

/// The alarms watching `metric`, on whatever queue, by the queue they watch.
fn alarms_on_queues(template: &Value, metric: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (alarm, _, watched_metric, dimensions) in watched(template) {
        if watched_metric == metric {
            for (name, value) in dimensions {
                if name == "QueueName" {
                    by_queue.entry(get_att_target(&value)).or_default().push(alarm.clone());
                }
            }
        }
    }
    by_queue
}

#[test]
fn every_queue_the_stack_creates_has_an_age_alarm_and_what_keeps_failures_a_depth_alarm() {
    let template = template();
    let aged = alarms_on_queues(&template, "ApproximateAgeOfOldestMessage");
    let deep = alarms_on_queues(&template, "ApproximateNumberOfMessagesVisible");
    for (queue, resource) in of_type(&template, "AWS::SQS::Queue") {
        let alarms =
            aged.get(queue).unwrap_or_else(|| panic!("{queue} has no age alarm: it would expire in silence"));
        for alarm in alarms {
            let condition = &template["Resources"][alarm]["Condition"];
            assert!(
                condition.is_null() || *condition == resource["Condition"],
                "{alarm} exists whenever {queue} does"
            );
        }
        if queue.ends_with("DLQ") || queue == "QuarantineQueue" {
            assert!(deep.contains_key(queue), "{queue} keeps failures but has no depth alarm");
        }
    }
}

fn alarm<'t>(template: &'t Value, name: &str) -> &'t Value {
    let alarm = &template["Resources"][name];
    assert_eq!(alarm["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{name} is an alarm");
    alarm
}

#[test]
fn every_silent_loss_is_alarmed_and_no_alarm_is_a_strangers_to_trip() {
    let template = template();
    // Refusals, by class, as a rate: one request is never enough.
    let mut classes = BTreeSet::new();
    for (name, _, metric, dimensions) in watched(&template) {
        if metric == "Rejected" {
            let class = text(&dimensions.iter().find(|(n, _)| n == "class").expect("by class").1);
            classes.insert(class);
            let properties = &alarm(&template, &name)["Properties"];
            assert_eq!(
                ref_target(&properties["Threshold"]).as_deref(),
                Some("RefusalAlarmThreshold"),
                "{name}"
            );
            assert_eq!(text(&properties["ComparisonOperator"]), "GreaterThanOrEqualToThreshold");
        }
    }
    assert_eq!(classes, BTreeSet::from(["malformed".into(), "signature".into(), "stale".into()]));
    assert!(text(&template["Parameters"]["RefusalAlarmThreshold"]["MinValue"]) == "1");
    // The refusal threshold's default makes one stranger's request (or a handful) not enough.
    let threshold: u64 = text(&template["Parameters"]["RefusalAlarmThreshold"]["Default"]).parse().unwrap();
    assert!(threshold >= 5);
    // 5xx on whichever front is deployed.
    for (alarm_name, condition, namespace) in [
        ("ReceiverErrorsAlarm", "OpenFunctionUrl", "AWS/Lambda"),
        ("HttpApiErrorsAlarm", "HttpApiEnabled", "AWS/ApiGateway"),
        ("RestApiErrorsAlarm", "RateLimited", "AWS/ApiGateway"),
    ] {
        let alarm = alarm(&template, alarm_name);
        assert_eq!(alarm["Condition"].as_str(), Some(condition), "{alarm_name}");
        assert_eq!(text(&alarm["Properties"]["Namespace"]), namespace);
        assert!(text(&alarm["Properties"]["MetricName"]).to_lowercase().contains("5xx"), "{alarm_name}");
    }
    for front in ["ReceiverFunctionUrl", "ReceiverHttpApi", "ReceiverRestApi"] {
        let condition = template["Resources"][front]["Condition"].as_str().unwrap();
        assert!(
            ["OpenFunctionUrl", "HttpApiEnabled", "RateLimited"].contains(&condition),
            "{front} is created with its 5xx alarm"
        );
    }
    assert_eq!(text(&alarm(&template, "RecorderConflictsAlarm")["Properties"]["MetricName"]), "Conflicts");
    assert_eq!(text(&alarm(&template, "FanoutIteratorAgeAlarm")["Properties"]["MetricName"]), "IteratorAge");
    for function in ["Receiver", "Recorder", "Fanout", "Consumer", "Reconciler", "Starter"] {
        let alarm = alarm(&template, &format!("{function}ErrorsOrThrottlesAlarm"));
        let metrics: Vec<String> = alarm["Properties"]["Metrics"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|m| !m["MetricStat"].is_null())
            .map(|m| text(&m["MetricStat"]["Metric"]["MetricName"]))
            .collect();
        assert_eq!(metrics, ["Errors", "Throttles"], "{function}");
    }
}

#[test]
fn a_flood_takes_neither_the_accounts_concurrency_nor_a_way_around_the_rate_limit() {
    let template = template();
    let receiver = resource(&template, "ReceiverFunction");
    assert!(!receiver["ReservedConcurrentExecutions"].is_null());
    for (function, event, _) in mappings(&template).into_iter().filter(|(_, e, _)| e["Type"] == "SQS") {
        assert!(!event["Properties"]["ScalingConfig"]["MaximumConcurrency"].is_null(), "{function}");
    }
    // With a rate limit, the only way in is through it.
    for overrides in [
        [("ReceiverRateLimit", "0"), ("EnableHttpApi", "true")],
        [("ReceiverRateLimit", "2000"), ("EnableHttpApi", "true")],
    ] {
        let deployment = Deployment::with(&template, &overrides);
        let limited = overrides[0].1 != "0";
        let created = |name: &str| deployment.creates(&template["Resources"][name]);
        assert_eq!(created("ReceiverFunctionUrl"), !limited, "{overrides:?}");
        assert_eq!(created("ReceiverHttpApi"), !limited, "{overrides:?}");
        for name in ["ReceiverRestApi", "ReceiverWebAcl", "ReceiverWebAclAssociation"] {
            assert_eq!(created(name), limited, "{name} {overrides:?}");
        }
        let permissions =
            of_type(&template, "AWS::Lambda::Permission").filter(|(_, r)| deployment.creates(r));
        for (name, permission) in permissions {
            let principal = text(&permission["Properties"]["Principal"]);
            assert!(
                !limited || principal == "apigateway.amazonaws.com",
                "{name} lets {principal} invoke the receiver around the rate limit"
            );
        }
    }
    let acl = resource(&template, "ReceiverWebAcl");
    let rule = &acl["Rules"][0];
    assert_eq!(text(&rule["Statement"]["RateBasedStatement"]["AggregateKeyType"]), "IP", "per client");
    assert_eq!(
        ref_target(&rule["Statement"]["RateBasedStatement"]["Limit"]).as_deref(),
        Some("ReceiverRateLimit")
    );
    assert_eq!(text(&rule["Action"]["Block"]["CustomResponse"]["ResponseCode"]), "429", "so Gemini retries");
    let binary = &resource(&template, "ReceiverRestApi")["BinaryMediaTypes"];
    assert_eq!(binary.as_sequence().unwrap()[0].as_str(), Some("*/*"), "the bytes Gemini signed, base64");
}

#[test]
fn the_local_endpoint_override_reaches_this_machine_alone() {
    let template = template();
    let pattern = text(&template["Parameters"]["LocalEndpointUrl"]["AllowedPattern"]);
    let pattern = regex::Regex::new(&pattern).unwrap();
    for allowed in [
        "",
        "http://127.0.0.1:5000",
        "http://localhost:4566/",
        "http://[::1]:9",
        "http://host.docker.internal:5000",
    ] {
        assert!(pattern.is_match(allowed), "{allowed:?}");
    }
    for refused in [
        "https://attacker.example/",
        "http://169.254.169.254/",
        "http://10.0.0.1:5000",
        "http://127.0.0.1.attacker.example/",
        "http://host.docker.internal.attacker.example/",
        "http://localhost@attacker.example/",
    ] {
        assert!(!pattern.is_match(refused), "{refused:?}");
    }
}

#[test]
fn the_dashboard_picture_in_the_readme_was_rendered_from_this_definition() {
    let template = template();
    let (_, sub) = tag_of(&resource(&template, "Dashboard")["DashboardBody"]).expect("a !Sub");
    let recorded =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/dashboard.png.sha256"))
            .unwrap();
    assert_eq!(
        shared::message::BodySha256::of(text(&sub[0]).as_bytes()).as_str(),
        recorded.trim(),
        "the dashboard changed: run `make dashboard-image` and commit docs/dashboard.png"
    );
}

#[test]
fn every_output_the_cli_reads_is_declared() {
    let template = template();
    let ledger = gemini_webhooks::ops::stack::outputs::LEDGER;
    for output in gemini_webhooks::ops::stack::outputs::all() {
        assert!(
            !template["Outputs"][output].is_null(),
            "template.yaml has no output {output}, which the CLI reads"
        );
        let condition = template["Outputs"][output]["Condition"].as_str();
        let expected = ledger.contains(&output).then_some("HasLedger");
        assert_eq!(condition, expected, "{output}: there exactly when what it names is");
    }
    assert_eq!(
        ref_target(&template["Outputs"]["FanoutFunctionName"]["Value"]).as_deref(),
        Some("FanoutFunction"),
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

/// The docs count the alarms (and price them by that count): the count is the template's, at the
/// defaults and with every option on.
#[test]
fn the_docs_count_the_templates_alarms() {
    let template = template();
    let count = |overrides: &[(&str, &str)]| {
        let deployment = Deployment::with(&template, overrides);
        of_type(&template, "AWS::CloudWatch::Alarm").filter(|(_, a)| deployment.creates(a)).count()
    };
    let defaults = count(&[]);
    let consumer = count(&[("DeployExampleConsumer", "true")]);
    for (page, claim) in [
        (
            "deploy-and-operate.md",
            format!("({defaults} at the defaults, {consumer} with the example consumer;"),
        ),
        ("performance-and-cost.md", format!("{defaults} CloudWatch alarms")),
    ] {
        let path = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&claim), "docs/{page} should say {claim:?}");
    }
}
