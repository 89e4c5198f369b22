//! The AWS side of the command line: SDK configuration (the user's account, or a local emulator with
//! dummy credentials), and SDK errors reduced to what a person can act on.

use std::error::Error;
use std::fmt::Debug;

use aws_sdk_sqs::error::SdkError;
use shared::aws::clients::Timeouts;

/// An error from an AWS call, as a cause to print: the service's own error (its code and message) when
/// the service answered; otherwise the SDK's, whose causes say what failed (no credentials, no route to
/// the endpoint, a timeout). Its full structure is kept for `-v`.
pub type AwsCause = Box<dyn Error + Send + Sync>;

/// See [`AwsCause`].
pub fn cause<E, R>(error: SdkError<E, R>) -> AwsCause
where
    E: Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match error {
        SdkError::ServiceError(service) => Box::new(service.into_err()),
        other => Box::new(other),
    }
}

/// SDK configuration: a local emulator's (fixed region, dummy credentials) when `endpoint` is given,
/// else the user's AWS; every call bounded by [`Timeouts::INTERACTIVE`].
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let defaults = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(Timeouts::INTERACTIVE.config());
    match endpoint {
        Some(endpoint) => {
            let credentials =
                aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "local");
            defaults
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .credentials_provider(credentials)
                .load()
                .await
        }
        None => defaults.load().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_is_bounded_against_aws_and_an_emulator_alike() {
        for endpoint in [None, Some("http://127.0.0.1:9")] {
            let config = sdk_config(endpoint).await;
            let limits = config.timeout_config().expect("timeouts are set");
            assert!(
                limits.operation_timeout().is_some() && limits.connect_timeout().is_some(),
                "{endpoint:?}"
            );
            assert!(
                limits.operation_attempt_timeout().unwrap() > std::time::Duration::from_secs(20),
                "a long poll fits"
            );
        }
    }
}
