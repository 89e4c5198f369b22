//! The stack's resources a command acts on (the events table, the ingest queue and its DLQ, the fanout
//! DLQ, the routed queues, the routing), named by flags or by the variables the functions themselves
//! read (`EVENTS_TABLE`, `INGEST_QUEUE_URL`, ...), or found from a deployed stack's outputs with
//! `--stack NAME` (and its routing, when a command routes, from the fanout function's configuration).

use std::collections::BTreeMap;

use shared::routing::{Routes, RoutesError};

use crate::ops::aws::{AwsCause, cause};
use crate::ops::stack::{StackError, StackOutputs, outputs};
use crate::ui::report::usage;

/// The resources, as far as they were given.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// The events table.
    pub table: Option<String>,
    /// The ingest queue.
    pub ingest_queue: Option<String>,
    /// The ingest DLQ.
    pub ingest_dlq: Option<String>,
    /// The fanout DLQ.
    pub fanout_dlq: Option<String>,
    /// The routed queues by name (`batch`, ...), from a stack.
    pub routed: BTreeMap<&'static str, String>,
    /// `ROUTES`, as the fanout reads it.
    pub routes_json: Option<String>,
    /// `DEFAULT_QUEUE_URL`.
    pub default_queue: Option<String>,
    /// The stack's fanout function, whose configuration holds the routing: read only when a command
    /// routes, so the others need no Lambda permission.
    pub fanout_function: Option<String>,
}

/// The fanout function's routing could not be read from the stack.
#[derive(Debug, thiserror::Error)]
#[error("reading the routing of {function} (the stack's fanout function)")]
pub struct RoutingError {
    /// The function.
    pub function: String,
    /// What Lambda said.
    #[source]
    pub source: AwsCause,
}

impl Resources {
    /// Fills what the flags left out from `stack`'s outputs.
    pub async fn complete_from_stack(
        mut self,
        config: &aws_config::SdkConfig,
        stack: &str,
    ) -> anyhow::Result<Self> {
        let outputs = StackOutputs::load(&aws_sdk_cloudformation::Client::new(config), stack).await?;
        let output =
            |name: &'static str| -> Result<String, StackError> { outputs.get(name).map(str::to_owned) };
        self.table = self.table.or(Some(output(outputs::EVENTS_TABLE)?));
        self.ingest_queue = self.ingest_queue.or(Some(output(outputs::INGEST_QUEUE)?));
        self.ingest_dlq = self.ingest_dlq.or(Some(output(outputs::INGEST_DLQ)?));
        self.fanout_dlq = self.fanout_dlq.or(Some(output(outputs::FANOUT_DLQ)?));
        for (name, key) in outputs::ROUTED {
            self.routed.insert(name, output(key)?);
        }
        self.fanout_function = Some(output(outputs::FANOUT_FUNCTION)?);
        Ok(self)
    }

    /// The events table, or a usage error naming how to give it.
    pub fn table(&self) -> anyhow::Result<&str> {
        required(&self.table, "--table (or EVENTS_TABLE)")
    }

    /// The ingest queue, or a usage error naming how to give it.
    pub fn ingest_queue(&self) -> anyhow::Result<&str> {
        required(&self.ingest_queue, "--ingest-queue (or INGEST_QUEUE_URL)")
    }

    /// The ingest DLQ, likewise.
    pub fn ingest_dlq(&self) -> anyhow::Result<&str> {
        required(&self.ingest_dlq, "--ingest-dlq (or INGEST_DLQ_URL)")
    }

    /// The fanout DLQ, likewise.
    pub fn fanout_dlq(&self) -> anyhow::Result<&str> {
        required(&self.fanout_dlq, "--fanout-dlq (or FANOUT_DLQ_URL)")
    }

    /// The routing: as given, else the stack's fanout function's own (`ROUTES`, `DEFAULT_QUEUE_URL`),
    /// else a usage error naming how to give it.
    pub async fn routes(&self, config: &aws_config::SdkConfig) -> anyhow::Result<Routes> {
        let (mut routes_json, mut default_queue) = (self.routes_json.clone(), self.default_queue.clone());
        if let (None, Some(function)) = (&routes_json, &self.fanout_function) {
            let lambda = aws_sdk_lambda::Client::new(config);
            let configuration = lambda
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .map_err(|e| RoutingError { function: function.clone(), source: cause(e) })?;
            let variables = configuration.environment().and_then(|e| e.variables());
            routes_json = variables.and_then(|v| v.get("ROUTES")).cloned();
            default_queue = default_queue.or_else(|| variables?.get("DEFAULT_QUEUE_URL").cloned());
        }
        let default = default_queue.as_deref().ok_or_else(|| {
            usage("routing needs the default queue: give --default-queue (or DEFAULT_QUEUE_URL), or --stack NAME")
        })?;
        Routes::parse(routes_json.as_deref(), default)
            .map_err(|e: RoutesError| usage(format!("--routes-json (or ROUTES): {e}")))
    }
}

fn required<'a>(value: &'a Option<String>, how: &str) -> anyhow::Result<&'a str> {
    value.as_deref().ok_or_else(|| usage(format!("give {how}, or --stack NAME")))
}

/// The resources the flags name (`given` sets them), completed from the stack `stack` when one is given.
pub async fn resources_for(
    config: &aws_config::SdkConfig,
    stack: Option<&str>,
    given: impl FnOnce(&mut Resources),
) -> anyhow::Result<Resources> {
    let mut resources = Resources::default();
    given(&mut resources);
    match stack {
        Some(name) => resources.complete_from_stack(config, name).await,
        None => Ok(resources),
    }
}
