//! `gemini-webhooks endpoint`: the dynamic URL is the receiver's URL with the token from the endpoint's
//! secret, read from Secrets Manager (in the emulator).

mod support;

use shared::signature::{EndpointSecrets, UrlToken};
use testkit::Emulator;

#[tokio::test]
async fn prints_the_static_url_and_the_dynamic_one_with_the_secrets_token() {
    let emulator = Emulator::shared().unwrap();
    let secrets = emulator.secretsmanager().await;
    let token = "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE";
    let created = secrets
        .create_secret()
        .name(format!("endpoint-{}", std::process::id()))
        .secret_string(
            EndpointSecrets::new(Vec::new(), Some(UrlToken::parse(token).unwrap())).to_secret_string(),
        )
        .send()
        .await
        .unwrap();
    let url = "https://abc123.lambda-url.us-east-1.on.aws/";

    let mut command = support::cli();
    command.args([
        "endpoint",
        "--url",
        url,
        "--secret-arn",
        created.arn().unwrap(),
        "--endpoint",
        emulator.endpoint(),
    ]);
    let stdout = support::run(command).succeeded();
    assert!(stdout.contains(&format!("{url}\n")), "{stdout}");
    assert!(stdout.contains(&format!("{url}?token={token}")), "{stdout}");
}
