//! Google's official Python SDK (`google-genai`, in the emulator's venv) pointed at the simulator: every
//! WebhookService call it implements, and the jobs calls (files in chunks, batches, interactions,
//! cancels, video through Interactions by file and inline), work under the SDK's default version (`v1`)
//! and `v1beta`, and every answer parses into the SDK's own models
//! (`tests/sdk_check.py`). Jobs end only when the script says, so nothing races its checks.

use gemini_sim::{Settings, Simulator};

#[tokio::test(flavor = "multi_thread")]
async fn google_genai_works_against_the_simulator() {
    let settings = Settings { finish_jobs_after: None, ..Settings::default() };
    let simulator = Simulator::start("sdk-key", settings).await.unwrap();
    let python = testkit::python().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk_check.py");
    let base = simulator.base_url().to_owned();
    let output =
        tokio::process::Command::new(&python).args([script, &base, "sdk-key"]).output().await.unwrap_or_else(
            |e| panic!("running {} (make venv installs google-genai): {e}", python.display()),
        );
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "ok");
}
