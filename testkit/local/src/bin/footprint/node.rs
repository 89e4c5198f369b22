//! The Node.js receiver in `bench/node-receiver` (`npm ci --prefix bench/node-receiver`): the same
//! job done with `standardwebhooks` and the AWS SDK v3, measured on the same signed events.

use std::path::{Path, PathBuf};
use std::process::Command;

use shared::signature::SigningSecret;
use testkit::{Emulator, Stack, TlsFront};

use crate::events::Workload;
use crate::first_delivery::{self, ColdRow, Fronted};
use crate::report::Role;
use crate::report::{self, Row, Size};
use crate::subjects::{self, Target};
use crate::{Error, Options, check_enqueued, count, measure};

/// The Node.js receiver in `bench/node-receiver`, installed with `npm ci`.
pub(crate) struct NodeReceiver {
    dir: PathBuf,
    pub(crate) program: PathBuf,
    pub(crate) version: String,
    label: String,
}

impl NodeReceiver {
    /// The installed receiver and the `node` on `PATH`, named with their versions.
    pub(crate) fn find(root: &Path) -> Result<Self, Error> {
        let dir = root.join("bench/node-receiver");
        let program = subjects::on_path("node").ok_or("no `node` on PATH (or pass --no-node)")?;
        if !dir.join("node_modules").is_dir() {
            return Err(
                "bench/node-receiver/node_modules is missing: run `npm ci --prefix bench/node-receiver`"
                    .into(),
            );
        }
        let output = Command::new(&program).arg("--version").output()?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let package = |name: &str| -> Result<String, Error> {
            let text = std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json"))?;
            let manifest: serde_json::Value = serde_json::from_str(&text)?;
            Ok(format!("{name} {}", manifest["version"].as_str().unwrap_or("?")))
        };
        let label = format!(
            "receiver in Node.js {version} ({}, {})",
            package("standardwebhooks")?,
            package("@aws-sdk/client-sqs")?
        );
        Ok(Self { dir, program, version, label })
    }

    /// What a zip of the function would hold: the code and its `node_modules` (the runtime brings
    /// `node` itself, which is not counted).
    fn deployment_size(&self) -> Result<Size, Error> {
        let parts = ["node_modules", "index.mjs", "bootstrap.mjs", "package.json"].map(|p| self.dir.join(p));
        Ok(Size::Deployment { bytes: report::apparent_size(&parts)? })
    }

    /// Cold starts and the long run, its deliveries checked to have reached `target`'s ingest queue.
    pub(crate) async fn measure(
        &self,
        sqs: &aws_sdk_sqs::Client,
        target: &Target<'_>,
        options: &Options,
    ) -> Result<Row, Error> {
        let subject = subjects::node(self.label.clone(), &self.program, &self.dir, target);
        let mut workload = Workload::deliveries(target.secret, "msg_fp_node");
        let queue = [target.stack.ingest.url.as_str()];
        let before = count(sqs, &queue).await?;
        let row = measure(&subject, self.deployment_size()?, &mut workload, options).await?;
        check_enqueued(sqs, &queue, before, workload.records(options.invocations), &self.label).await?;
        Ok(row)
    }

    /// Its cold first deliveries, over plain HTTP and through `front`, on a stack of their own.
    pub(crate) async fn first_deliveries(
        &self,
        emulator: &Emulator,
        front: &TlsFront,
        secret: &SigningSecret,
        options: &Options,
    ) -> Result<ColdRow, Error> {
        let stack = Stack::create(emulator).await?;
        let target = Target { endpoint: emulator.endpoint(), stack: &stack, secret };
        let plain = subjects::node(self.label.clone(), &self.program, &self.dir, &target);
        let tls = first_delivery::through_tls(&plain, &[Fronted { plain: emulator.endpoint(), front }])?;
        let mut workload = Workload::deliveries(secret, "msg_fp_node_cold");
        let (sqs, queue) = (emulator.sqs().await, [stack.ingest.url.as_str()]);
        let before = count(&sqs, &queue).await?;
        let starts = options.first_deliveries;
        let row = first_delivery::measure(&plain, &tls, &mut workload, starts, Role::Comparison).await?;
        check_enqueued(&sqs, &queue, before, 2 * options.first_deliveries, &self.label).await?;
        Ok(row)
    }
}
