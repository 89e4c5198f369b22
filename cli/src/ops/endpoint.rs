//! The URLs to give Gemini: the receiver's plain URL for static webhooks (registered once), and the
//! same URL with the endpoint's token for dynamic ones (passed in every job's `webhook_config.uris`).
//! The token is read from the endpoint's secret and printed only where it is asked for.

use shared::signature::UrlToken;

use crate::ops::endpoint_secret::{EndpointSecret, SecretStoreError};

/// The endpoint's URLs could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The secret could not be read, or holds no usable value.
    #[error(transparent)]
    Secret(#[from] SecretStoreError),
    /// The secret holds no URL token, so dynamic deliveries are refused.
    #[error(
        "the endpoint's secret {0} holds no url_token: dynamic deliveries are refused until it does (make one with `gemini-webhooks keygen`)"
    )]
    NoToken(String),
}

/// The receiver's URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrls {
    /// For static webhooks: register it with Gemini.
    pub static_url: String,
    /// For dynamic webhooks: pass it in `webhook_config.uris`. Holds the token: handle it as a secret.
    pub dynamic_url: String,
}

/// The URLs of the receiver at `url`, with the token `token`.
pub fn urls(url: &str, token: &UrlToken) -> EndpointUrls {
    EndpointUrls { static_url: url.to_owned(), dynamic_url: token.in_url(url) }
}

/// The URLs of the receiver at `url`, its token read from the secret at `arn`.
pub async fn endpoint_urls(
    client: &aws_sdk_secretsmanager::Client,
    url: &str,
    arn: &str,
) -> Result<EndpointUrls, EndpointError> {
    let stored = EndpointSecret::new(client.clone(), arn).read().await?;
    let token = stored.secrets.url_token.ok_or_else(|| EndpointError::NoToken(arn.to_owned()))?;
    Ok(urls(url, &token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dynamic_url_carries_the_token_as_a_query_parameter() {
        let token = UrlToken::parse("tok_0123456789abcdefghijklmn").unwrap();
        let made = urls("https://abc.lambda-url.us-east-1.on.aws/", &token);
        assert_eq!(
            made.dynamic_url,
            "https://abc.lambda-url.us-east-1.on.aws/?token=tok_0123456789abcdefghijklmn"
        );
        assert_eq!(
            urls("http://127.0.0.1:8080/?x=1", &token).dynamic_url,
            "http://127.0.0.1:8080/?x=1&token=tok_0123456789abcdefghijklmn"
        );
    }
}
