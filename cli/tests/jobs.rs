//! `jobs` on the built CLI against the local Gemini: each job starts with the dynamic URL (and the
//! `user_metadata` given) in its `webhook_config`, in the place Google's reference puts it for that
//! kind of job, and the CLI says where its result will land without showing the URL's token.

use std::process::Command;

use gemini_sim::{Settings, Simulator};
use serde_json::Value;

const KEY: &str = "jobs-key";
const URL: &str = "https://abc.lambda-url.us-east-1.on.aws/?token=tok0123456789abcdefghijklmnopqrstuv";

async fn jobs(simulator: &Simulator, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gemini-webhooks"));
    command
        .arg("jobs")
        .args(args)
        .args(["--webhook-url", URL, "--metadata", "team=ml", "--json"])
        .env("GEMINI_API_KEY", KEY)
        .env("GEMINI_API_BASE", simulator.base_url());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_job_starts_with_the_dynamic_webhook() {
    let simulator =
        Simulator::start(KEY, Settings { finish_jobs_after: None, ..Settings::default() }).await.unwrap();
    let input = std::env::temp_dir().join(format!("jobs-{}.jsonl", std::process::id()));
    std::fs::write(
        &input,
        "{\"key\": \"a\", \"request\": {\"contents\": [{\"parts\": [{\"text\": \"hi\"}]}]}}\n",
    )
    .unwrap();

    let mut started = Vec::new();
    for args in [vec!["batch", input.to_str().unwrap()], vec!["interaction", "hello"], vec!["video", "a cat"]]
    {
        let (code, stdout, stderr) = jobs(&simulator, &args).await;
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(
            !stdout.contains("tok0123") && !stderr.contains("tok0123"),
            "the token is never shown: {stdout}"
        );
        let line: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(line["result"].as_str().unwrap().contains(line["job"].as_str().unwrap()), "{line}");
        started.push(line["job"].as_str().unwrap().to_owned());
    }
    assert!(started[0].starts_with("batches/") && started[2].contains("/operations/"), "{started:?}");

    // Each job carries the webhook_config, as the local Gemini parsed it from where Google puts it.
    for job in simulator.jobs() {
        let config = simulator.job_webhook(&job).unwrap();
        assert_eq!(
            (config["uris"][0].as_str(), config["user_metadata"]["team"].as_str()),
            (Some(URL), Some("ml")),
            "{job}"
        );
    }
    assert_eq!(simulator.jobs().len(), 3);
}
