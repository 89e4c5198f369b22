//! The functions under measurement, each with the environment Lambda would give it under
//! `template.yaml`, its AWS calls pointed at the emulator's stack.

use std::path::{Path, PathBuf};

use shared::fixtures::stack::Function;
use shared::signature::SigningSecret;
use testkit::Stack;

use crate::Error;
use crate::launch::Subject;

/// `template.yaml`, `Globals.Function.MemorySize`: every function's memory.
pub(crate) const MEMORY_MB: u32 = 128;

/// The four functions, in pipeline order (each run feeds the next one's events).
pub(crate) const FUNCTIONS: [&str; 4] = ["receiver", "recorder", "fanout", "consumer"];

/// Where the functions' AWS calls go, and the receiver's signing secret.
pub(crate) struct Target<'a> {
    /// The emulator's endpoint, as `AWS_ENDPOINT_URL`.
    pub(crate) endpoint: &'a str,
    /// The table and queues the functions use.
    pub(crate) stack: &'a Stack,
    /// The receiver's `WEBHOOK_SECRETS`.
    pub(crate) secret: &'a SigningSecret,
}

/// `template.yaml`'s `SSL_CERT_FILE`: the system's one bundle of roots (Amazon Linux 2023's path there,
/// this machine's here), so the TLS clients read it alone.
pub(crate) const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// What Lambda itself sets in every function's environment (bar `AWS_LAMBDA_RUNTIME_API`, added at
/// start), with fake credentials and the emulator as every service's endpoint, and the template's
/// global `SSL_CERT_FILE`.
fn lambda_env(function_name: &str, endpoint: &str) -> Vec<(String, String)> {
    let roots =
        testkit::system_roots_file().map(|file| (SSL_CERT_FILE.to_owned(), file.display().to_string()));
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &MEMORY_MB.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{function_name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/22/[$LATEST]0123456789abcdef0123456789abcdef"),
        ("AWS_REGION", testkit::REGION),
        ("AWS_DEFAULT_REGION", testkit::REGION),
        ("AWS_ACCESS_KEY_ID", "ASIAFOOTPRINTTESTING"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain(roots)
    .collect()
}

/// `subject` without `SSL_CERT_FILE`: its TLS clients probe for the system's roots (rustls-native-certs
/// reads the bundle file and every file of the certificate directories), as without the template.
pub(crate) fn roots_probed(subject: &Subject) -> Subject {
    let mut probed = subject.clone();
    probed.label = format!("{}, roots probed (no SSL_CERT_FILE)", subject.label);
    probed.env.retain(|(name, _)| name != SSL_CERT_FILE);
    probed
}

/// The receiver's own variables, as the template sets them (the secret inline instead of an ARN).
fn receiver_vars(target: &Target<'_>) -> Vec<(&'static str, String)> {
    let mut vars = target.stack.resources().vars(Function::Receiver);
    vars.extend([
        ("WEBHOOK_SECRETS", target.secret.expose_whsec()),
        ("ACCEPTED_SCHEMES", "v1,v1a,jwt".to_owned()),
        ("TIMESTAMP_TOLERANCE_SECS", "300".to_owned()),
        ("MAX_BODY_BYTES", "262144".to_owned()),
    ]);
    vars
}

/// A function's own variables, as `template.yaml` sets them (without the example consumer's route
/// copies, the stack's default), plus the global `RUST_LOG`.
fn own_vars(function: &str, target: &Target<'_>) -> Vec<(&'static str, String)> {
    let resources = target.stack.resources_without_consumer();
    let mut vars = match function {
        "receiver" => receiver_vars(target),
        "recorder" => {
            let mut vars = resources.vars(Function::Recorder);
            vars.push(("RECORD_TTL_SECS", "604800".to_owned()));
            vars
        }
        "fanout" => resources.vars(Function::Fanout),
        // The API key's secret is not read for failure records, the consumer's workload here.
        "consumer" => resources.vars(Function::Consumer),
        _ => Vec::new(),
    };
    vars.push(("RUST_LOG", "info".to_owned()));
    vars
}

/// The bootstrap of `function` in `dir`: `DIR/<name>/bootstrap` (cargo-lambda's layout),
/// `DIR/<Name>Function/bootstrap` (`sam build`'s, under `.aws-sam/build`) or `DIR/<name>` (cargo's).
pub(crate) fn bootstrap(dir: &Path, function: &str) -> Result<PathBuf, Error> {
    let sam = format!("{}{}Function", function[..1].to_ascii_uppercase(), &function[1..]);
    [dir.join(function).join("bootstrap"), dir.join(sam).join("bootstrap"), dir.join(function)]
        .into_iter()
        .find(|path| path.is_file())
        .map(|path| path.canonicalize())
        .transpose()?
        .ok_or_else(|| format!("no bootstrap for {function} in {}", dir.display()).into())
}

/// A Rust function's bootstrap, configured for `target`.
pub(crate) fn rust(function: &str, label: String, bootstrap: PathBuf, target: &Target<'_>) -> Subject {
    let mut env = lambda_env(function, target.endpoint);
    env.extend(own_vars(function, target).into_iter().map(|(k, v)| (k.to_owned(), v)));
    Subject {
        label,
        function_name: function.to_owned(),
        dir: bootstrap.parent().map(Path::to_path_buf),
        program: bootstrap,
        args: Vec::new(),
        env,
    }
}

/// The Node.js receiver in `dir`, run by `node` with the heap limits the managed `nodejs20.x`
/// runtime's own bootstrap script derives from the memory size (a tenth for the young generation, half
/// of that per semi-space, the rest for the old generation).
pub(crate) fn node(label: String, node: &Path, dir: &Path, target: &Target<'_>) -> Subject {
    let new_space = MEMORY_MB / 10;
    let mut env = lambda_env("node-receiver", target.endpoint);
    env.extend(receiver_vars(target).into_iter().map(|(k, v)| (k.to_owned(), v)));
    Subject {
        label,
        function_name: "node-receiver".to_owned(),
        program: node.to_path_buf(),
        args: vec![
            "--expose-gc".to_owned(),
            "--max-http-header-size=81920".to_owned(),
            format!("--max-semi-space-size={}", new_space / 2),
            format!("--max-old-space-size={}", MEMORY_MB - new_space),
            "bootstrap.mjs".to_owned(),
        ],
        dir: Some(dir.to_path_buf()),
        env,
    }
}

/// An executable on `PATH`, as an absolute path (the functions' environment has no `PATH`).
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}
