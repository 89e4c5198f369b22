//! The built consumer, started without its table, stops with one line naming the variable. (No test
//! dependency: this crate is the one users copy.)

use std::process::Command;

#[test]
fn a_missing_table_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_consumer"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("IDEMPOTENCY_TABLE") && !stderr.contains(" { "), "{stderr}");
}
