//! `gemini-webhooks endpoint`: the dynamic URL is the receiver's URL with the token from the endpoint's
//! secret, read from Secrets Manager (in the emulator).

use std::process::Command;

use testkit::Emulator;

#[tokio::test]
async fn prints_the_static_url_and_the_dynamic_one_with_the_secrets_token() {
    let emulator = Emulator::shared().unwrap();
    let secrets = emulator.secretsmanager().await;
    let token = "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE";
    let created = secrets
        .create_secret()
        .name(format!("endpoint-{}", std::process::id()))
        .secret_string(format!(r#"{{"signing_secrets": "", "url_token": "{token}"}}"#))
        .send()
        .await
        .unwrap();
    let url = "https://abc123.lambda-url.us-east-1.on.aws/";

    let output = Command::new(env!("CARGO_BIN_EXE_gemini-webhooks"))
        .args([
            "endpoint",
            "--url",
            url,
            "--secret-arn",
            created.arn().unwrap(),
            "--endpoint",
            emulator.endpoint(),
        ])
        .output()
        .unwrap();

    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("{url}\n")), "{stdout}");
    assert!(stdout.contains(&format!("{url}?token={token}")), "{stdout}");
}
