//! A minimal Lambda Runtime API on loopback: just what a custom runtime's loop talks to, for running a
//! function's real binary as Lambda runs it (`make footprint`, the functions' runtime tests). `GET
//! /2018-06-01/runtime/invocation/next` hands out the invocations the harness queues, one at a time;
//! the function's `response`, `error` and `init/error` posts come back as [`Outcome`]s. Every `next`
//! poll is stamped on arrival, which is how cold start is measured: a function that polls is done with
//! its init and ready for work, exactly the point Lambda's init phase ends.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

const PREFIX: &str = "/2018-06-01/runtime/";

/// One invocation to hand out on the next poll.
#[derive(Debug)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event, as JSON bytes.
    pub payload: Vec<u8>,
}

/// What the function posted back.
#[derive(Debug)]
pub enum Outcome {
    /// `invocation/{id}/response`: the handler returned.
    Response {
        /// The invocation's `Lambda-Runtime-Aws-Request-Id`.
        request_id: String,
        /// What the handler returned.
        body: Bytes,
    },
    /// `invocation/{id}/error`: the handler failed.
    Error {
        /// The invocation's `Lambda-Runtime-Aws-Request-Id`.
        request_id: String,
        /// The error, as the runtime reports it.
        body: Bytes,
    },
    /// `init/error`: the function could not start.
    InitError {
        /// The error, as the runtime reports it.
        body: Bytes,
    },
}

/// The server side shared by every connection.
struct State {
    pending: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    polls: mpsc::UnboundedSender<Instant>,
    outcomes: mpsc::UnboundedSender<(Instant, Outcome)>,
    function_arn: String,
    /// How long each invocation may run, as the deadline header tells the function.
    deadline: Duration,
}

/// A running Runtime API for one function process; stops (closing its connections) when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    invocations: mpsc::UnboundedSender<Invocation>,
    polls: mpsc::UnboundedReceiver<Instant>,
    outcomes: mpsc::UnboundedReceiver<(Instant, Outcome)>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Listens on a free loopback port, for the function called `function_name`, giving each
    /// invocation `deadline` to run.
    pub async fn start(function_name: &str, deadline: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (invocations, pending) = mpsc::unbounded_channel();
        let (poll_tx, polls) = mpsc::unbounded_channel();
        let (outcome_tx, outcomes) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            pending: Mutex::new(pending),
            polls: poll_tx,
            outcomes: outcome_tx,
            function_arn: format!("arn:aws:lambda:{}:123456789012:function:{function_name}", crate::REGION),
            deadline,
        });
        let server = tokio::spawn(serve(listener, state));
        Ok(Self { addr, invocations, polls, outcomes, server })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the next `invocation/next` poll arrived (`None` only if the server stopped).
    pub async fn next_poll(&mut self) -> Option<Instant> {
        self.polls.recv().await
    }

    /// The next poll's arrival, if one comes `within` (a start takes milliseconds: a generous bound).
    pub async fn poll_within(&mut self, within: Duration) -> Option<Instant> {
        tokio::time::timeout(within, self.polls.recv()).await.ok().flatten()
    }

    /// Queues an invocation for the next poll.
    pub fn invoke(&self, invocation: Invocation) {
        // The receiving half lives in the server task, which only ends when `self` is dropped.
        let _ = self.invocations.send(invocation);
    }

    /// The next thing the function posted.
    pub async fn next_outcome(&mut self) -> Option<Outcome> {
        self.next_outcome_at().await.map(|(_, outcome)| outcome)
    }

    /// The next thing the function posted, and when it arrived.
    pub async fn next_outcome_at(&mut self) -> Option<(Instant, Outcome)> {
        self.outcomes.recv().await
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Accepts connections until aborted; the connections are owned here, so aborting ends them too.
async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| route(state.clone(), request));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn route(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Stamped before anything else: the request head has just been parsed (a post's, on arrival too).
    let arrived = Instant::now();
    let path = request.uri().path().strip_prefix(PREFIX).unwrap_or_default().to_owned();
    if request.method() == Method::GET && path == "invocation/next" {
        let _ = state.polls.send(arrived);
        let next = state.pending.lock().await.recv().await;
        return Ok(match next {
            Some(invocation) => next_response(&state, invocation),
            None => empty(StatusCode::GONE),
        });
    }
    if request.method() != Method::POST {
        return Ok(empty(StatusCode::NOT_FOUND));
    }
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let outcome = match segments.as_slice() {
        ["invocation", id, "response"] => Outcome::Response { request_id: (*id).to_owned(), body },
        ["invocation", id, "error"] => Outcome::Error { request_id: (*id).to_owned(), body },
        ["init", "error"] => Outcome::InitError { body },
        _ => return Ok(empty(StatusCode::NOT_FOUND)),
    };
    let _ = state.outcomes.send((arrived, outcome));
    let mut accepted = Response::new(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)));
    *accepted.status_mut() = StatusCode::ACCEPTED;
    Ok(accepted)
}

/// The trace header every invocation is given, as Lambda gives one (sampled or not): what the receiver
/// carries with each delivery (and what `make footprint` gives the recorder's input too).
pub const TRACE_HEADER: &str = "Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0";

/// The `next` answer with the headers Lambda sends (the runtime client refuses one without them).
fn next_response(state: &State, invocation: Invocation) -> Response<Full<Bytes>> {
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + state.deadline;
    let response = Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.request_id)
        .header("lambda-runtime-deadline-ms", deadline.as_millis().to_string())
        .header("lambda-runtime-invoked-function-arn", &state.function_arn)
        .header("lambda-runtime-trace-id", TRACE_HEADER)
        .body(Full::new(Bytes::from(invocation.payload)));
    response.unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR))
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
