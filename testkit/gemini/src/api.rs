//! The HTTP side: the WebhookService's paths under `/v1beta/` and `/v1/`, the Files API, the jobs, the
//! JWKS, and the simulator's own `/_sim/events` and `/_sim/{job}:finish`. Each answer is JSON in
//! Google's shapes; each refusal is Google's error shape with the status code Google uses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use shared::signature::SigningSecret;
use tokio::net::TcpListener;

use crate::Shared;
use crate::deliver;
use crate::files::{Session, Source, StoredFile};
use crate::jobs::{self, Job, Kind, Outcome, VideoDelivery};
use crate::store::{OVERLAP_SECS, SUBSCRIBABLE, Secret, State, Webhook};

/// Largest `page_size` the reference allows.
const MAX_PAGE_SIZE: usize = 1000;
/// `page_size` when none is given.
const DEFAULT_PAGE_SIZE: usize = 50;

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// An answer: a status and a JSON body.
type Answer = (StatusCode, Value);

/// Google's error shape.
fn error(status: StatusCode, message: &str) -> Answer {
    let code = match status {
        StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
        StatusCode::FORBIDDEN => "PERMISSION_DENIED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        _ => "INTERNAL",
    };
    (status, json!({"error": {"code": status.as_u16(), "message": message, "status": code}}))
}

/// A response body: JSON, or a download (which may be cut off on purpose).
type Body = BoxBody<Bytes, std::io::Error>;

/// What a route answers.
enum Reply {
    /// JSON, with a status.
    Json(Answer),
    /// JSON with extra headers (an upload session's URL).
    WithHeaders(Answer, Vec<(&'static str, String)>),
    /// A file's bytes.
    Download(Vec<u8>, String),
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Self {
        Self::Json(answer)
    }
}

async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let path = parts.uri.path();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reply: Reply = if path == "/.well-known/jwks.json" {
        (StatusCode::OK, shared.jwks()).into()
    } else if path == "/_sim/events" && parts.method == Method::POST {
        simulated_event(shared, &body).into()
    } else if let Some(name) = path
        .strip_prefix("/_sim/")
        .and_then(|p| p.strip_suffix(":finish"))
        .filter(|_| parts.method == Method::POST)
    {
        simulated_finish(shared, name, &body).into()
    } else {
        let api = path.strip_prefix("/v1beta/").or_else(|| path.strip_prefix("/v1/"));
        let upload = path.strip_prefix("/upload/v1beta/").or_else(|| path.strip_prefix("/upload/v1/"));
        let download =
            crate::files::download_id(path).filter(|_| query.get("alt").is_some_and(|a| a == "media"));
        // A header sent twice is one comma-joined value (RFC 9110, 5.3): a key sent twice is no key.
        let keys: Vec<&str> =
            parts.headers.get_all("x-goog-api-key").iter().filter_map(|v| v.to_str().ok()).collect();
        let key = if keys.is_empty() { query.get("key").cloned() } else { Some(keys.join(", ")) };
        // An upload session's URL is its own credential: the SDKs send its chunks without the key.
        let session_upload = upload.is_some() && query.contains_key("upload_id");
        match key {
            _ if api.is_none() && upload.is_none() && download.is_none() => {
                error(StatusCode::NOT_FOUND, &format!("The requested URL {path} was not found on this server.")).into()
            }
            _ if session_upload => upload_file(shared, &query, &header, &body),
            None => error(
                StatusCode::FORBIDDEN,
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            )
            .into(),
            Some(key) if key != shared.api_key => {
                error(StatusCode::BAD_REQUEST, "API key not valid. Please pass a valid API key.").into()
            }
            Some(_) => match (download, upload, api) {
                (Some(id), _, _) => files_download(shared, id),
                (_, Some("files"), _) => upload_file(shared, &query, &header, &body),
                (_, _, Some(rest)) if rest.starts_with("webhooks") => {
                    webhooks(shared, &parts.method, rest, &query, &body).into()
                }
                (_, _, Some(rest)) => jobs_api(shared, &parts.method, rest, &body).into(),
                _ => error(StatusCode::NOT_FOUND, "Method not found.").into(),
            },
        }
    };
    respond(shared, reply)
}

fn respond(shared: &Arc<Shared>, reply: Reply) -> Response<Body> {
    let json_body =
        |value: Value| Full::new(Bytes::from(value.to_string())).map_err(|never| match never {}).boxed();
    let (status, body, headers, content_type) = match reply {
        Reply::Json((status, value)) => {
            (status, json_body(value), Vec::new(), "application/json; charset=UTF-8".to_owned())
        }
        Reply::WithHeaders((status, value), headers) => {
            (status, json_body(value), headers, "application/json; charset=UTF-8".to_owned())
        }
        Reply::Download(bytes, mime) => {
            let cut = shared.files().interruptions.pop();
            let length = bytes.len();
            let body = match cut {
                None => Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed(),
                Some(after) => {
                    // The first `after` bytes, then the connection drops.
                    // (The break comes a moment later, so the head and those bytes are on the wire.)
                    let head = Bytes::from(bytes[..after.min(length)].to_vec());
                    let sent = futures_util::stream::iter([Ok::<_, std::io::Error>(Frame::data(head))]);
                    let cut = futures_util::stream::once(async {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut off"))
                    });
                    StreamBody::new(futures_util::StreamExt::chain(sent, cut)).boxed()
                }
            };
            (StatusCode::OK, body, vec![("content-length", length.to_string())], mime)
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let all = std::iter::once(("content-type", content_type)).chain(headers);
    for (name, value) in all {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// `/webhooks...` after the version.
fn webhooks(
    shared: &Arc<Shared>,
    method: &Method,
    rest: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Answer {
    let Some(rest) = rest.strip_prefix("webhooks") else {
        return error(StatusCode::NOT_FOUND, &format!("Method not found: {rest}"));
    };
    let json = match json_body(body) {
        Ok(json) => json,
        Err(refusal) => return refusal,
    };
    match (method, rest.strip_prefix('/')) {
        (&Method::POST, None) if rest.is_empty() => create(shared, &json),
        (&Method::GET, None) if rest.is_empty() => list(shared, query),
        (_, None) => error(StatusCode::NOT_FOUND, "Method not found."),
        (method, Some(tail)) => {
            let (id, verb) = match tail.split_once(':') {
                Some((id, verb)) => (id, Some(verb)),
                None => (tail, None),
            };
            let id = id.to_owned();
            if !shared.webhooks().contains_key(&id) {
                return error(StatusCode::NOT_FOUND, &format!("Webhook {id} not found."));
            }
            match (method, verb) {
                (&Method::GET, None) => get(shared, &id),
                (&Method::PATCH, None) => update(shared, &id, query, &json),
                (&Method::DELETE, None) => {
                    shared.webhooks().remove(&id);
                    (StatusCode::OK, json!({}))
                }
                (&Method::POST, Some("ping")) => {
                    deliver::ping(shared, &id);
                    (StatusCode::OK, json!({}))
                }
                (&Method::POST, Some("rotateSigningSecret")) => rotate(shared, &id, &json),
                _ => error(StatusCode::NOT_FOUND, "Method not found."),
            }
        }
    }
}

/// A request's JSON body (`{}` when empty), or Google's answer to one that is not JSON.
fn json_body(body: &[u8]) -> Result<Value, Answer> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("Invalid JSON payload received. {e}")))
}

/// A fresh id, like the live ones: 36 lower-case letters and digits.
pub(crate) fn fresh_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 36];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// The `subscribed_events` of a request, checked against the enum.
fn events(value: &Value) -> Result<Vec<String>, Answer> {
    let list = value
        .as_array()
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "subscribed_events must be a list."))?;
    let mut events = Vec::new();
    for event in list {
        match event.as_str() {
            Some(name) if SUBSCRIBABLE.contains(&name) => events.push(name.to_owned()),
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Invalid value at 'subscribed_events' ({event}): expected one of {}.",
                        SUBSCRIBABLE.join(", ")
                    ),
                ));
            }
        }
    }
    if events.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "subscribed_events must not be empty."));
    }
    Ok(events)
}

fn uri(value: &Value) -> Result<String, Answer> {
    let text = value.as_str().unwrap_or_default();
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(text.to_owned()),
        _ => Err(error(StatusCode::BAD_REQUEST, "uri must be an absolute http(s) URL.")),
    }
}

fn create(shared: &Arc<Shared>, body: &Value) -> Answer {
    let (uri, events) = match (uri(&body["uri"]), events(&body["subscribed_events"])) {
        (Ok(uri), Ok(events)) => (uri, events),
        (Err(refusal), _) | (_, Err(refusal)) => return refusal,
    };
    let now = shared.now();
    let secret = SigningSecret::generate();
    let webhook = Webhook {
        id: fresh_id(),
        name: body["name"].as_str().map(str::to_owned),
        uri,
        subscribed_events: events,
        state: State::Enabled,
        created_at: now,
        updated_at: now,
        secrets: vec![Secret { secret: secret.clone(), expires_at: None }],
        failures_in_a_row: 0,
    };
    let mut resource = webhook.to_json(now);
    resource["new_signing_secret"] = json!(secret.expose_whsec());
    shared.webhooks().insert(webhook.id.clone(), webhook);
    if let Some(hook) = shared.on_create.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
        hook();
    }
    (StatusCode::OK, resource)
}

fn list(shared: &Arc<Shared>, query: &HashMap<String, String>) -> Answer {
    let size = match query.get("page_size").map(|s| s.parse::<usize>()) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(0)) => DEFAULT_PAGE_SIZE,
        Some(Ok(size)) => size.min(MAX_PAGE_SIZE),
        Some(Err(_)) => {
            return error(StatusCode::BAD_REQUEST, "Invalid value at 'page_size': not an integer.");
        }
    };
    let start = match query.get("page_token").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(start)) => start,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "Invalid page_token."),
    };
    let now = shared.now();
    let webhooks = shared.webhooks();
    let page: Vec<Value> = webhooks.values().skip(start).take(size).map(|w| w.to_json(now)).collect();
    let mut answer = json!({"webhooks": page});
    if start + size < webhooks.len() {
        answer["next_page_token"] = json!((start + size).to_string());
    }
    (StatusCode::OK, answer)
}

fn get(shared: &Arc<Shared>, id: &str) -> Answer {
    let now = shared.now();
    let webhooks = shared.webhooks();
    webhooks.get(id).map_or_else(
        || error(StatusCode::NOT_FOUND, "Webhook not found."),
        |w| (StatusCode::OK, w.to_json(now)),
    )
}

fn update(shared: &Arc<Shared>, id: &str, query: &HashMap<String, String>, body: &Value) -> Answer {
    // With `update_mask`, only the fields it names; without, every field the body has.
    let mask: Option<Vec<&str>> =
        query.get("update_mask").filter(|m| !m.is_empty()).map(|m| m.split(',').map(str::trim).collect());
    let wanted = |field: &str| mask.as_ref().map_or_else(|| !body[field].is_null(), |m| m.contains(&field));
    for field in mask.iter().flatten() {
        if !["name", "uri", "subscribed_events", "state"].contains(field) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid update_mask: {field} cannot be updated."),
            );
        }
    }
    let now = shared.now();
    let mut webhooks = shared.webhooks();
    let Some(webhook) = webhooks.get_mut(id) else {
        return error(StatusCode::NOT_FOUND, "Webhook not found.");
    };
    let mut changed = webhook.clone();
    if wanted("uri") {
        match uri(&body["uri"]) {
            Ok(uri) => changed.uri = uri,
            Err(refusal) => return refusal,
        }
    }
    if wanted("subscribed_events") {
        match events(&body["subscribed_events"]) {
            Ok(events) => changed.subscribed_events = events,
            Err(refusal) => return refusal,
        }
    }
    if wanted("state") {
        match body["state"].as_str().and_then(State::settable) {
            Some(state) => {
                changed.state = state;
                changed.failures_in_a_row = 0;
            }
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Invalid value at 'state': expected enabled or disabled.",
                );
            }
        }
    }
    if wanted("name") {
        changed.name = body["name"].as_str().map(str::to_owned);
    }
    changed.updated_at = now;
    *webhook = changed;
    let answer = webhook.to_json(now);
    drop(webhooks);
    if wanted("state")
        && let Some(hook) = shared.on_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
    {
        hook(id, answer["state"].as_str().unwrap_or_default());
    }
    (StatusCode::OK, answer)
}

fn rotate(shared: &Arc<Shared>, id: &str, body: &Value) -> Answer {
    let overlap = match body["revocation_behavior"].as_str() {
        None | Some("revoke_previous_secrets_after_h24") => Some(OVERLAP_SECS),
        Some("revoke_previous_secrets_immediately") => None,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Invalid value at 'revocation_behavior' ({other}): expected revoke_previous_secrets_after_h24 or revoke_previous_secrets_immediately."
                ),
            );
        }
    };
    let now = shared.now();
    let mut webhooks = shared.webhooks();
    let Some(webhook) = webhooks.get_mut(id) else {
        return error(StatusCode::NOT_FOUND, "Webhook not found.");
    };
    let secret = SigningSecret::generate();
    match overlap {
        Some(secs) => {
            for previous in &mut webhook.secrets {
                let ends = now + secs;
                previous.expires_at = Some(previous.expires_at.map_or(ends, |at| at.min(ends)));
            }
        }
        None => webhook.secrets.clear(),
    }
    webhook.secrets.retain(|s| s.live_at(now));
    webhook.secrets.insert(0, Secret { secret: secret.clone(), expires_at: None });
    webhook.updated_at = now;
    (StatusCode::OK, json!({"secret": secret.expose_whsec()}))
}

/// `POST /_sim/events` `{"type", "data", "user_metadata"?, "uris"?}`: an event happens (the simulator's
/// own path, not Google's).
fn simulated_event(shared: &Arc<Shared>, body: &[u8]) -> Answer {
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"type\", \"data\", \"user_metadata\"?, \"uris\"?}",
        );
    };
    let Some(event_type) = event["type"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "type is required");
    };
    let data = event.get("data").cloned().unwrap_or_else(|| json!({}));
    let metadata = event.get("user_metadata").cloned();
    let ids = match event["uris"].as_array() {
        Some(uris) => {
            let uris: Vec<String> = uris.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect();
            deliver::emit_dynamic(shared, &uris, event_type, data, metadata)
        }
        None => deliver::emit(shared, event_type, data, metadata),
    };
    (StatusCode::OK, json!({"webhook_ids": ids}))
}

/// `POST /_sim/{job}:finish` `{"outcome"?, "error_code"?, "error_message"?}`: a running job ends now, as
/// `succeeded` (the default), `failed` (with that google.rpc code and message), `expired` or
/// `cancelled`, and its event is delivered. Answers the deliveries' `webhook_ids` (none when the job had
/// already ended).
fn simulated_finish(shared: &Arc<Shared>, name: &str, body: &[u8]) -> Answer {
    let json = match json_body(body) {
        Ok(json) => json,
        Err(refusal) => return refusal,
    };
    let outcome = match json["outcome"].as_str().unwrap_or("succeeded") {
        "succeeded" => Outcome::Succeed,
        "failed" => Outcome::Fail {
            code: json["error_code"].as_i64().unwrap_or(13),
            message: json["error_message"].as_str().unwrap_or("Internal error encountered.").to_owned(),
        },
        "expired" => Outcome::Expire,
        "cancelled" => Outcome::Cancel,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("outcome must be succeeded, failed, expired or cancelled, not {other}"),
            );
        }
    };
    match jobs::finish(shared, name, outcome) {
        Ok(ids) => (StatusCode::OK, json!({"webhook_ids": ids})),
        Err(_) => error(StatusCode::NOT_FOUND, &format!("{name} not found.")),
    }
}

/// `POST /upload/v1beta/files`: `start` opens a session and answers its URL in `x-goog-upload-url`;
/// on that URL (its own credential: no key needed) each `upload` appends a chunk at
/// `X-Goog-Upload-Offset`, and `upload, finalize` appends the last, stores the file and answers
/// `{"file": File}`.
fn upload_file(
    shared: &Arc<Shared>,
    query: &HashMap<String, String>,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Reply {
    let command = header("x-goog-upload-command").unwrap_or_default();
    match (command.as_str(), query.get("upload_id")) {
        ("start", None) => {
            if header("x-goog-upload-protocol").as_deref() != Some("resumable") {
                return error(StatusCode::BAD_REQUEST, "X-Goog-Upload-Protocol must be resumable.").into();
            }
            let metadata: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let file = &metadata["file"];
            let display_name =
                file["display_name"].as_str().or_else(|| file["displayName"].as_str()).unwrap_or("upload");
            let mime_type = header("x-goog-upload-header-content-type")
                .unwrap_or_else(|| "application/octet-stream".into());
            let id = fresh_id();
            let session = Session { display_name: display_name.to_owned(), mime_type, received: Vec::new() };
            shared.files().sessions.insert(id.clone(), session);
            let url = format!(
                "{}/upload/{}/files?upload_id={id}&upload_protocol=resumable",
                shared.base_url,
                crate::API_VERSION
            );
            Reply::WithHeaders(
                (StatusCode::OK, json!({})),
                vec![("x-goog-upload-url", url), ("x-goog-upload-status", "active".into())],
            )
        }
        (command, Some(id)) if command.contains("upload") || command.contains("finalize") => {
            let mut files = shared.files();
            let Some(session) = files.sessions.get_mut(id) else {
                return error(StatusCode::NOT_FOUND, "No such upload session.").into();
            };
            let offset = header("x-goog-upload-offset").and_then(|o| o.parse::<usize>().ok());
            if command.contains("upload") && offset.is_some_and(|o| o != session.received.len()) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "X-Goog-Upload-Offset does not match the bytes received.",
                )
                .into();
            }
            session.received.extend_from_slice(body);
            if !command.contains("finalize") {
                return Reply::WithHeaders(
                    (StatusCode::OK, json!({})),
                    vec![("x-goog-upload-status", "active".into())],
                );
            }
            let Some(session) = files.sessions.remove(id) else {
                return error(StatusCode::NOT_FOUND, "No such upload session.").into();
            };
            let name = format!("files/{}", fresh_id().get(..12).unwrap_or_default());
            let file = StoredFile {
                name: name.clone(),
                display_name: session.display_name,
                mime_type: session.mime_type,
                bytes: session.received,
                source: Source::Uploaded,
                created_at: shared.now(),
            };
            let shown = file.to_json(&shared.base_url);
            files.files.insert(name, file);
            Reply::WithHeaders(
                (StatusCode::OK, json!({"file": shown})),
                vec![("x-goog-upload-status", "final".into())],
            )
        }
        _ => error(StatusCode::BAD_REQUEST, "Unsupported X-Goog-Upload-Command.").into(),
    }
}

fn files_download(shared: &Arc<Shared>, id: &str) -> Reply {
    let files = shared.files();
    match files.files.get(&format!("files/{id}")) {
        None => error(StatusCode::NOT_FOUND, &format!("File files/{id} not found.")).into(),
        Some(file) if file.source == Source::Uploaded => {
            error(StatusCode::BAD_REQUEST, "Only generated files can be downloaded; uploaded files cannot.")
                .into()
        }
        Some(file) => Reply::Download(file.bytes.clone(), file.mime_type.clone()),
    }
}

/// The job a cancel names: `batches/{id}:cancel`, or `interactions/{id}/cancel` (a slash: the
/// Interactions API's own style).
fn cancel_target(rest: &str) -> Option<&str> {
    let batch = rest.strip_suffix(":cancel").filter(|name| name.starts_with("batches/"));
    batch.or_else(|| rest.strip_suffix("/cancel").filter(|name| name.starts_with("interactions/")))
}

/// Cancels a job that is still running, delivering its `*.cancelled` event; one that already ended is
/// left as it was (Google documents no answer for that case). A batch answers `{}`, an interaction
/// itself.
fn cancel(shared: &Arc<Shared>, name: &str) -> Answer {
    if jobs::finish(shared, name, Outcome::Cancel).is_err() {
        return error(StatusCode::NOT_FOUND, &format!("{name} not found."));
    }
    match shared.jobs().get(name) {
        Some(job) if job.kind == Kind::Interaction => (StatusCode::OK, job.to_json(&shared.base_url)),
        _ => (StatusCode::OK, json!({})),
    }
}

/// Files, batches, interactions and video operations, after the version.
fn jobs_api(shared: &Arc<Shared>, method: &Method, rest: &str, body: &[u8]) -> Answer {
    let json = match json_body(body) {
        Ok(json) => json,
        Err(refusal) => return refusal,
    };
    let base = &shared.base_url;
    let now = shared.now();
    if method == Method::GET {
        if let Some(file) = shared.files().files.get(rest) {
            return (StatusCode::OK, file.to_json(base));
        }
        let name = if rest.starts_with("interactions/")
            || rest.starts_with("batches/")
            || rest.contains("/operations/")
        {
            rest.to_owned()
        } else {
            return error(StatusCode::NOT_FOUND, &format!("{rest} not found."));
        };
        return match shared.jobs().get(&name) {
            Some(job) => (StatusCode::OK, job.to_json(base)),
            None => error(StatusCode::NOT_FOUND, &format!("{name} not found.")),
        };
    }
    if method != Method::POST {
        return error(StatusCode::NOT_FOUND, "Method not found.");
    }
    if let Some(name) = cancel_target(rest) {
        return cancel(shared, name);
    }
    let (kind, model) = if rest == "interactions" {
        (Kind::Interaction, json["model"].as_str().unwrap_or_default().to_owned())
    } else if let Some(model) =
        rest.strip_prefix("models/").and_then(|m| m.strip_suffix(":batchGenerateContent"))
    {
        (Kind::Batch, format!("models/{model}"))
    } else if let Some(model) =
        rest.strip_prefix("models/").and_then(|m| m.strip_suffix(":predictLongRunning"))
    {
        (Kind::Video, format!("models/{model}"))
    } else {
        return error(StatusCode::NOT_FOUND, "Method not found.");
    };
    let id = fresh_id();
    let (name, webhook, input) = match kind {
        Kind::Batch => {
            let batch = &json["batch"];
            let file = batch["input_config"]["file_name"]
                .as_str()
                .or_else(|| batch["inputConfig"]["fileName"].as_str());
            let Some(file) = file.filter(|f| shared.files().files.contains_key(*f)) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "batch.input_config.file_name must name an uploaded file.",
                );
            };
            let webhook = batch
                .get("webhook_config")
                .or_else(|| batch.get("webhookConfig"))
                .cloned()
                .unwrap_or(Value::Null);
            (format!("batches/{id}"), webhook, file.to_owned())
        }
        Kind::Interaction => {
            if !json["webhook_config"].is_null() && json["background"] != json!(true) {
                return error(StatusCode::BAD_REQUEST, "webhook_config requires background: true.");
            }
            let Some(input) = json["input"].as_str() else {
                return error(StatusCode::BAD_REQUEST, "input is required.");
            };
            (format!("interactions/v1_{id}"), json["webhook_config"].clone(), input.to_owned())
        }
        Kind::Video => {
            let Some(prompt) = json["instances"][0]["prompt"].as_str() else {
                return error(StatusCode::BAD_REQUEST, "instances[0].prompt is required.");
            };
            let webhook = json
                .get("webhookConfig")
                .or_else(|| json.get("webhook_config"))
                .cloned()
                .unwrap_or(Value::Null);
            (format!("{model}/operations/{}", id.get(..12).unwrap_or_default()), webhook, prompt.to_owned())
        }
    };
    let webhook = match jobs::webhook_config(&webhook) {
        Ok(webhook) => webhook,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let job = Job {
        name,
        kind,
        model,
        webhook,
        input,
        created_at: now,
        ended_at: None,
        outcome: None,
        output_file: None,
        video: (kind == Kind::Interaction)
            .then(|| VideoDelivery::requested(&json["response_format"]))
            .flatten(),
    };
    let answer = job.to_json(base);
    jobs::started(shared, job);
    (StatusCode::OK, answer)
}
