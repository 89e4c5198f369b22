//! Test support: fixed clocks, generated keys, and a JWKS server on 127.0.0.1 whose answers and hit
//! count the test controls.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use gemini_webhooks_aws::clock::ManualClock;
use gemini_webhooks_aws::signature::sign::RsaJwtSigner;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// A fixed "now" for tests: 2026-01-22T12:00:00Z.
pub const NOW: i64 = 1_769_083_200;

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(NOW))
}

/// RSA key generation takes a while even optimised: one key per test binary.
pub static RSA_KEY: LazyLock<RsaJwtSigner> =
    LazyLock::new(|| RsaJwtSigner::generate("rsa-1").expect("RSA key generation"));

/// What the JWKS server answers.
#[derive(Clone)]
pub enum Answer {
    Jwks { document: Value, cache_control: Option<&'static str> },
    Status(u16),
}

/// A JWKS endpoint on a free loopback port, stopped when dropped.
pub struct JwksServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new(answer));
        let (task_hits, task_answer) = (hits.clone(), answer.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (hits, answer) = (task_hits.clone(), task_answer.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let answer = answer.lock().unwrap().clone();
                        async move { Ok::<_, Infallible>(respond(answer)) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { url, hits, answer, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    match answer {
        Answer::Jwks { document, cache_control } => {
            let mut response = Response::builder().header("content-type", "application/json");
            if let Some(value) = cache_control {
                response = response.header("cache-control", value);
            }
            response.body(Full::new(Bytes::from(document.to_string()))).unwrap()
        }
        Answer::Status(code) => Response::builder().status(code).body(Full::new(Bytes::new())).unwrap(),
    }
}
