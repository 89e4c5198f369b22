//! The Gemini client's handling of what the network hands it: the API key goes to the API's own host
//! and nowhere else (no redirect followed with it, no upload session elsewhere, no plain HTTP but to this
//! machine), job names are checked before any call, and no answer is read whole past its limit.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use gemini_webhooks_aws::gemini::{ApiError, GeminiClient, MAX_ANSWER_BYTES};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const KEY: &str = "key-that-must-stay-home";

/// A request as a server saw it: its path and whether it carried the key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    path: String,
    with_key: bool,
}

/// A server on loopback answering every request with `answer(path)`, recording what it saw.
async fn server(
    answer: impl Fn(&str) -> Response<Full<Bytes>> + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (record, answer) = (seen.clone(), Arc::new(answer));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (record, answer) = (record.clone(), answer.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let path = request.uri().path().to_owned();
                    let with_key = request.headers().contains_key("x-goog-api-key");
                    record.lock().unwrap().push(Seen { path: path.clone(), with_key });
                    let response = answer(&path);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (base, seen)
}

fn json(body: String) -> Response<Full<Bytes>> {
    Response::builder().header("content-type", "application/json").body(Full::new(Bytes::from(body))).unwrap()
}

#[test]
fn the_key_is_given_only_to_https_or_to_this_machine() {
    for allowed in [
        "https://generativelanguage.googleapis.com",
        "http://127.0.0.1:9",
        "http://localhost:8080",
        "http://[::1]:1",
    ] {
        assert!(GeminiClient::new(allowed, "v1", KEY).is_ok(), "{allowed}");
    }
    for refused in ["http://generativelanguage.googleapis.com", "http://10.0.0.1", "ftp://x", "not a url"] {
        assert!(
            matches!(GeminiClient::new(refused, "v1", KEY), Err(ApiError::BaseRefused { .. })),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_key_never_reaches_where_it_points() {
    let (elsewhere, reached) = server(|_| json("{}".into())).await;
    let (base, _) = server(move |_| {
        Response::builder()
            .status(302)
            .header("location", format!("{elsewhere}/stolen"))
            .body(Full::default())
            .unwrap()
    })
    .await;
    let client = GeminiClient::new(&base, "v1", KEY).unwrap();

    let answer = client.get_operation("batches/abc").await;

    assert!(matches!(answer, Err(ApiError::Api { status: 302, .. })), "{answer:?}");
    assert!(reached.lock().unwrap().is_empty(), "the redirect's target was never called");
}

#[tokio::test]
async fn an_upload_session_on_another_host_is_refused_and_one_at_home_gets_no_key() {
    let (elsewhere, reached) = server(|_| json(r#"{"file": {"name": "files/x"}}"#.into())).await;
    let session = format!("{elsewhere}/upload/session");
    let (base, _) = server(move |_| {
        Response::builder().header("x-goog-upload-url", session.clone()).body(Full::default()).unwrap()
    })
    .await;
    let client = GeminiClient::new(&base, "v1", KEY).unwrap();
    let refused = client.upload_file(b"{}".to_vec(), "in.jsonl", "application/jsonl").await;
    assert!(matches!(refused, Err(ApiError::Unexpected { .. })), "{refused:?}");
    assert!(reached.lock().unwrap().is_empty(), "nothing was sent to the other host");

    // A session on the API's own host: the file goes there, without the key (the URL is the credential).
    let home: Arc<Mutex<String>> = Arc::default();
    let session_base = home.clone();
    let (base, seen) = server(move |path| {
        if path == "/upload/session" {
            json(r#"{"file": {"name": "files/x"}}"#.into())
        } else {
            let session = format!("{}/upload/session", session_base.lock().unwrap());
            Response::builder().header("x-goog-upload-url", session).body(Full::default()).unwrap()
        }
    })
    .await;
    *home.lock().unwrap() = base.clone();
    let client = GeminiClient::new(&base, "v1", KEY).unwrap();
    let file = client.upload_file(b"{}".to_vec(), "in.jsonl", "application/jsonl").await.unwrap();
    assert_eq!(file.name, "files/x");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            Seen { path: "/upload/v1/files".into(), with_key: true },
            Seen { path: "/upload/session".into(), with_key: false }
        ]
    );
}

#[tokio::test]
async fn a_job_name_in_no_documented_shape_is_never_sent() {
    let (base, seen) = server(|_| json("{}".into())).await;
    let client = GeminiClient::new(&base, "v1", KEY).unwrap();
    for name in ["batches/../webhooks", "batches/a/../../files/x", "../models"] {
        assert!(matches!(client.get_operation(name).await, Err(ApiError::NotAJob(_))), "{name}");
        assert!(matches!(client.cancel_batch(name).await, Err(ApiError::NotAJob(_))), "{name}");
        assert!(matches!(client.get_interaction(name).await, Err(ApiError::NotAJob(_))), "{name}");
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_answer_larger_than_the_limit_is_refused_rather_than_held() {
    let big = format!(r#"{{"id": "v1_x", "padding": "{}"}}"#, "x".repeat(MAX_ANSWER_BYTES));
    let (base, _) = server(move |_| json(big.clone())).await;
    let client = GeminiClient::new(&base, "v1", KEY).unwrap();
    let answer = client.get_interaction("v1_x").await;
    assert!(matches!(answer, Err(ApiError::TooLarge { limit: MAX_ANSWER_BYTES, .. })), "{answer:?}");
}
