//! One HTTPS GET of a JWKS document, bounded in time and size.

use super::jwks::KeySet;

/// A fetched key set and how long its server said it may be cached.
#[derive(Debug)]
pub(super) struct Fetched {
    pub(super) keys: KeySet,
    pub(super) max_age_secs: Option<u64>,
}

/// Fetches and parses the document at `url`. The error is a short description for logs; it never
/// includes the response body.
pub(super) async fn fetch_jwks(
    client: &reqwest::Client,
    url: &reqwest::Url,
    max_bytes: usize,
) -> Result<Fetched, String> {
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("request failed: {}", without_url(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {}", status.as_u16()));
    }
    let max_age_secs = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    if response.content_length().is_some_and(|len| len > max_bytes as u64) {
        return Err(format!("document is larger than {max_bytes} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| format!("reading body failed: {}", without_url(&e)))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(format!("document is larger than {max_bytes} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let keys = KeySet::from_jwks(&body).map_err(|e| e.to_string())?;
    Ok(Fetched { keys, max_age_secs })
}

/// reqwest errors name the URL; ours is configuration, not secret, but keep log lines short.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<jwks url>");
    }
    text
}

/// `max-age` from a Cache-Control value; `no-store` and `no-cache` count as zero.
fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(value) = lower.strip_prefix("max-age=") {
            age = value.trim_matches('"').parse().ok();
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::max_age;

    #[test]
    fn reads_max_age_among_other_directives() {
        assert_eq!(max_age("public, max-age=19800, must-revalidate"), Some(19800));
        assert_eq!(max_age("Max-Age=60"), Some(60));
        assert_eq!(max_age("private, no-cache"), Some(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
