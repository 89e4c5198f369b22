//! `jobs` on the built CLI against the local Gemini: each job starts with the dynamic URL (and the
//! `user_metadata` given) in its `webhook_config`, in the place Google's reference puts it for that
//! kind of job, and the CLI says where its result will land without showing the URL's token.

mod support;

use gemini_sim::{Settings, Simulator};
use serde_json::Value;
use shared::gemini::{DEFAULT_API_VERSION, GeminiClient, InteractionVideo, interaction_video};

const KEY: &str = "jobs-key";
const URL: &str = "https://abc.lambda-url.us-east-1.on.aws/?token=tok0123456789abcdefghijklmnopqrstuv";

/// `jobs ARGS` starting a job with the dynamic URL and `team=ml`, printing JSON.
async fn jobs(simulator: &Simulator, args: &[&str]) -> (Option<i32>, String, String) {
    let mut args = args.to_vec();
    args.extend(["--webhook-url", URL, "--metadata", "team=ml"]);
    cli(simulator, &args).await
}

/// `jobs ARGS --json` against the simulator: the exit code, stdout and stderr.
async fn cli(simulator: &Simulator, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = support::cli();
    command
        .arg("jobs")
        .args(args)
        .arg("--json")
        .env("GEMINI_API_KEY", KEY)
        .env("GEMINI_API_BASE", simulator.base_url());
    support::run_async(command).await.parts()
}

/// The local Gemini, its jobs ending only when told, and a batch's input file named after `test`.
async fn start(test: &str) -> (Simulator, std::path::PathBuf) {
    let simulator =
        Simulator::start(KEY, Settings { finish_jobs_after: None, ..Settings::default() }).await.unwrap();
    let input = std::env::temp_dir().join(format!("{test}-{}.jsonl", std::process::id()));
    std::fs::write(
        &input,
        "{\"key\": \"a\", \"request\": {\"contents\": [{\"parts\": [{\"text\": \"hi\"}]}]}}\n",
    )
    .unwrap();
    (simulator, input)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_job_starts_with_the_dynamic_webhook() {
    let (simulator, input) = start("jobs").await;

    let mut started = Vec::new();
    let kinds = [
        vec!["batch", input.to_str().unwrap()],
        vec!["interaction", "hello"],
        vec!["video", "a cat"],
        vec!["video", "a dog", "--predict-long-running"],
    ];
    for args in kinds {
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
    assert!(started[0].starts_with("batches/") && started[3].contains("/operations/"), "{started:?}");
    assert!(!started[2].contains('/'), "a video is an interaction, by default: {started:?}");

    // The video interaction asked for video, as a file: once it ends, its output is one to download.
    simulator.finish(&started[2], gemini_sim::Outcome::Succeed);
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let interaction = client.get_interaction(&started[2]).await.unwrap();
    assert!(
        matches!(interaction_video(&interaction), Some(InteractionVideo::Uri(uri)) if uri.contains(":download")),
        "{interaction}"
    );

    // Each job carries the webhook_config, as the local Gemini parsed it from where Google puts it.
    for job in simulator.jobs() {
        let config = simulator.job_webhook(&job).unwrap();
        assert_eq!(
            (config["uris"][0].as_str(), config["user_metadata"]["team"].as_str()),
            (Some(URL), Some("ml")),
            "{job}"
        );
    }
    assert_eq!(simulator.jobs().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_batch_or_interaction_is_cancelled_and_a_video_cannot_be() {
    let (simulator, input) = start("cancel").await;
    let job = |stdout: &str| -> String {
        serde_json::from_str::<Value>(stdout.trim()).unwrap()["job"].as_str().unwrap().to_owned()
    };
    let batch = job(&jobs(&simulator, &["batch", input.to_str().unwrap()]).await.1);
    let interaction = job(&jobs(&simulator, &["interaction", "hello"]).await.1);
    let video = job(&jobs(&simulator, &["video", "a cat", "--predict-long-running"]).await.1);

    // Each is cancelled; once ended, a job stays as it ended, and the CLI says so.
    for (name, state) in [(&batch, "BATCH_STATE_CANCELLED"), (&interaction, "cancelled")] {
        for outcome in ["cancelled", "already_ended"] {
            let (code, stdout, stderr) = cli(&simulator, &["cancel", name]).await;
            assert_eq!(code, Some(0), "{stderr}");
            let line: Value = serde_json::from_str(stdout.trim()).unwrap();
            assert_eq!(
                (line["job"].as_str(), line["state"].as_str(), line["outcome"].as_str()),
                (Some(name.as_str()), Some(state), Some(outcome)),
                "{line}"
            );
        }
    }

    let (code, _, stderr) = cli(&simulator, &["cancel", &video]).await;
    assert_eq!(code, Some(2), "a video generation has no cancel: a usage error: {stderr}");
    assert!(stderr.contains("video generation cannot be cancelled"), "{stderr}");
    let (code, _, stderr) = cli(&simulator, &["cancel", &interaction_video_job(&simulator).await]).await;
    assert_eq!(code, Some(0), "a video made through Interactions is cancelled as an interaction: {stderr}");
    let (code, _, stderr) = cli(&simulator, &["cancel", "batches/nosuchbatch"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("404") && stderr.contains("batches/nosuchbatch"),
        "Google's answer, named: {stderr}"
    );
}

/// A video started through Interactions (the default), still running.
async fn interaction_video_job(simulator: &Simulator) -> String {
    let (code, stdout, stderr) = jobs(simulator, &["video", "a horse"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str::<Value>(stdout.trim()).unwrap()["job"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_token_for_a_job_that_is_not_tracked_is_a_usage_error_before_anything_starts() {
    let (simulator, _) = start("untracked-token").await;
    let (code, _, stderr) =
        jobs(&simulator, &["interaction", "hello", "--task-token", "a-valid-looking-token"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--task-token needs the job tracked"), "{stderr}");
    assert!(simulator.jobs().is_empty(), "nothing was started");
}
