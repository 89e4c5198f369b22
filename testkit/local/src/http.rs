//! Serving Lambda handlers over plain HTTP on loopback, so the local pipeline answers real requests
//! (from the CLI, curl, or a tunnel) exactly as a Function URL would.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, RequestExt, Response};
use tokio::net::TcpListener;

/// Serves `handler` on `listener` until the task is dropped or aborted.
pub async fn serve<H, F>(listener: TcpListener, handler: Arc<H>)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(to_hyper(handler(from_hyper(request).await).await)) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// The request as lambda_http hands it to a handler, query string parameters included.
async fn from_hyper(request: hyper::Request<Incoming>) -> Request {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Request::from_parts(parts, body).with_query_string_parameters(query)
}

fn to_hyper(response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Serves a fixed JSON document (a JWKS) at every path.
pub async fn serve_json(listener: TcpListener, document: String) {
    let document: Arc<str> = document.into();
    let respond = move |_request: Request| {
        let mut response = Response::new(Body::Text(document.to_string()));
        let headers = response.headers_mut();
        headers.insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
        headers.insert("cache-control", lambda_http::http::HeaderValue::from_static("public, max-age=3600"));
        std::future::ready(response)
    };
    serve(listener, Arc::new(respond)).await;
}
