//! Reading a Secrets Manager secret's text: the one call behind the Gemini API key, the endpoint's
//! secrets and the starter's URL token, its failure described without the value.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// The secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading the secret {arn} failed: {detail}")]
pub struct SecretUnreadable {
    /// The secret.
    pub arn: String,
    /// What Secrets Manager said (never the value).
    pub detail: String,
}

/// The text of the secret `arn` (or name), its current version. A secret holding binary data only is
/// unreadable here: every secret this project reads is text.
pub async fn read_string(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<String, SecretUnreadable> {
    let unreadable = |detail: String| SecretUnreadable { arn: arn.to_owned(), detail };
    let value = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| unreadable(DisplayErrorContext(e).to_string()))?;
    value.secret_string().map(str::to_owned).ok_or_else(|| unreadable("it holds no text".into()))
}
