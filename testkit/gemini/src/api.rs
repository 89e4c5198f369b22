//! The HTTP side: the WebhookService's paths under `/v1beta/` and `/v1/`, the JWKS, and the
//! simulator's own `/_sim/events`. Each answer is JSON in Google's shapes; each refusal is Google's
//! error shape with the status code Google uses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
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

async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let path = parts.uri.path();
    let (status, value) = if path == "/.well-known/jwks.json" {
        (StatusCode::OK, shared.jwks())
    } else if path == "/_sim/events" && parts.method == Method::POST {
        simulated_event(shared, &body)
    } else if let Some(rest) = path.strip_prefix("/v1beta/").or_else(|| path.strip_prefix("/v1/")) {
        let key = parts
            .headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .or(query.get("key").map(String::as_str));
        match key {
            None => error(
                StatusCode::FORBIDDEN,
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            ),
            Some(key) if key != shared.api_key => {
                error(StatusCode::BAD_REQUEST, "API key not valid. Please pass a valid API key.")
            }
            Some(_) => webhooks(shared, &parts.method, rest, &query, &body),
        }
    } else {
        error(StatusCode::NOT_FOUND, &format!("The requested URL {path} was not found on this server."))
    };
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", hyper::header::HeaderValue::from_static("application/json; charset=UTF-8"));
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
    let json: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Invalid JSON payload received. {e}")),
        }
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

/// A fresh id, like the live ones: 36 lower-case letters and digits.
fn fresh_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 36];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// A fresh signing secret in Gemini's form: `whsec_` and 24 random bytes in base64.
fn fresh_secret() -> SigningSecret {
    let mut key = [0u8; 24];
    OsRng.fill_bytes(&mut key);
    let text = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key));
    SigningSecret::parse(&text).unwrap_or_else(|_| SigningSecret::generate())
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
    let secret = fresh_secret();
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
    (StatusCode::OK, webhook.to_json(now))
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
    let secret = fresh_secret();
    match overlap {
        Some(secs) => {
            for previous in &mut webhook.secrets {
                let ends = now + secs;
                previous.expires_at = Some(previous.expires_at.map_or(ends, |at| at.min(ends)));
            }
        }
        None => webhook.secrets.clear(),
    }
    webhook.secrets.retain(|s| s.expires_at.is_none_or(|at| at > now));
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
