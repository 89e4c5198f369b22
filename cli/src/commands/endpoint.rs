//! `endpoint`: the URLs to give Gemini.

use std::fmt;

use serde::Serialize;

use crate::ops::aws::sdk_config;
use crate::ops::endpoint::{EndpointUrls, endpoint_urls};
use crate::ops::stack::{StackOutputs, outputs};
use crate::ui::output::Output;
use crate::ui::report::usage;
use clap::Args;

#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The stack (its `WebhookUrl` and `EndpointSecretArn` outputs).
    #[arg(long, conflicts_with_all = ["url", "secret_arn"], required_unless_present = "url")]
    pub stack: Option<String>,
    /// The receiver's URL, instead of a stack.
    #[arg(long, requires = "secret_arn")]
    pub url: Option<String>,
    /// The endpoint's secret, instead of a stack.
    #[arg(long)]
    pub secret_arn: Option<String>,
}

#[derive(Serialize)]
struct Urls {
    static_url: String,
    dynamic_url: String,
}

impl fmt::Display for Urls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "static  (register with Gemini):         {}", self.static_url)?;
        write!(f, "dynamic (webhook_config.uris, secret):  {}", self.dynamic_url)
    }
}

pub(crate) async fn run(args: EndpointArgs, endpoint: Option<&str>, out: Output) -> anyhow::Result<()> {
    let config = sdk_config(endpoint).await;
    let (url, arn) = match (args.stack, args.url, args.secret_arn) {
        (Some(stack), _, _) => {
            let cfn = aws_sdk_cloudformation::Client::new(&config);
            let found = StackOutputs::load(&cfn, &stack).await?;
            (found.get(outputs::WEBHOOK_URL)?.to_owned(), found.get(outputs::ENDPOINT_SECRET_ARN)?.to_owned())
        }
        (None, Some(url), Some(arn)) => (url, arn),
        _ => return Err(usage("give --stack NAME, or --url URL and --secret-arn ARN")),
    };
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let EndpointUrls { static_url, dynamic_url } = endpoint_urls(&secrets, &url, &arn).await?;
    out.print(&Urls { static_url, dynamic_url });
    Ok(())
}
