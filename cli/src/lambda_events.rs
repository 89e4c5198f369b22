//! Lambda events as AWS sends them: HTTP events of every payload format a user can put in front of the
//! receiver, and SQS events made of received messages, as the SQS trigger hands them to a function. For
//! handler tests, sample events, the local triggers and `forward --format sqs-event`.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use shared::signature::sign::SignedHeaders;
use shared::signature::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};

/// Who invokes the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// A Lambda Function URL (payload format 2.0).
    FunctionUrl,
    /// An API Gateway HTTP API (payload format 2.0).
    HttpApi,
    /// An API Gateway REST API (payload format 1.0).
    RestApi,
    /// An Application Load Balancer target.
    Alb,
}

impl PayloadFormat {
    /// Every format.
    pub const ALL: [PayloadFormat; 4] = [Self::FunctionUrl, Self::HttpApi, Self::RestApi, Self::Alb];
}

/// An HTTP request to turn into an event.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    /// `POST`, `GET`, ...
    pub method: &'a str,
    /// Header names and values, as sent (any case).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: &'a [u8],
    /// Send the body base64-encoded, as API Gateway does for binary media types.
    pub base64: bool,
    /// Query string parameters (a dynamic delivery's `token`).
    pub query: Vec<(String, String)>,
}

impl<'a> HttpRequest<'a> {
    /// A JSON POST of `body` carrying the three webhook headers of `signed`, as Gemini sends it.
    pub fn signed(signed: &SignedHeaders, body: &'a [u8]) -> Self {
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (WEBHOOK_ID.to_owned(), signed.id.clone()),
            (WEBHOOK_TIMESTAMP.to_owned(), signed.timestamp.clone()),
            (WEBHOOK_SIGNATURE.to_owned(), signed.signature.clone()),
        ];
        Self { method: "POST", headers, body, base64: false, query: Vec::new() }
    }

    /// The same request with `token` in the query string, as Gemini posts a dynamic delivery to the
    /// URL it was given for the job.
    pub fn with_url_token(mut self, token: &str) -> Self {
        self.query.push(("token".to_owned(), token.to_owned()));
        self
    }
}

/// The event `format` delivers for `request`.
pub fn http_event(format: PayloadFormat, request: &HttpRequest<'_>) -> Value {
    let headers: Map<String, Value> =
        request.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let body = if request.base64 {
        base64::engine::general_purpose::STANDARD.encode(request.body)
    } else {
        String::from_utf8_lossy(request.body).into_owned()
    };
    let method = request.method;
    let raw_query: String =
        request.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let query: Map<String, Value> =
        request.query.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let multi_query: Map<String, Value> =
        request.query.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let (query, multi_query) = if request.query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(query), Value::Object(multi_query))
    };
    let alb_query = if request.query.is_empty() { json!({}) } else { query.clone() };
    match format {
        PayloadFormat::FunctionUrl | PayloadFormat::HttpApi => {
            let domain = if format == PayloadFormat::FunctionUrl {
                "abcdefghij.lambda-url.us-east-1.on.aws"
            } else {
                "abcdefghij.execute-api.us-east-1.amazonaws.com"
            };
            json!({
                "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": raw_query,
                "headers": headers, "queryStringParameters": query,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "abcdefghij", "domainName": domain,
                    "domainPrefix": "abcdefghij",
                    "http": {"method": method, "path": "/", "protocol": "HTTP/1.1",
                             "sourceIp": "203.0.113.7", "userAgent": "Google-Webhooks"},
                    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "routeKey": "$default",
                    "stage": "$default", "time": "22/Jan/2026:12:00:00 +0000", "timeEpoch": 1_769_083_200_000_i64
                },
                "body": body, "isBase64Encoded": request.base64
            })
        }
        PayloadFormat::RestApi => {
            let multi: Map<String, Value> =
                request.headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
            json!({
                "resource": "/webhook", "path": "/webhook", "httpMethod": method,
                "headers": headers, "multiValueHeaders": multi,
                "queryStringParameters": query, "multiValueQueryStringParameters": multi_query,
                "pathParameters": null, "stageVariables": null,
                "requestContext": {
                    "accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
                    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                    "identity": {"sourceIp": "203.0.113.7", "userAgent": "Google-Webhooks"},
                    "resourcePath": "/webhook", "httpMethod": method, "apiId": "abcdefghij",
                    "path": "/prod/webhook"
                },
                "body": body, "isBase64Encoded": request.base64
            })
        }
        PayloadFormat::Alb => json!({
            "requestContext": {"elb": {"targetGroupArn":
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gemini/0123456789abcdef"}},
            "httpMethod": method, "path": "/", "queryStringParameters": alb_query,
            "headers": headers, "body": body, "isBase64Encoded": request.base64
        }),
    }
}

/// A received SQS message from the queue at `queue_url`, as Lambda's SQS trigger hands it to a function.
pub fn sqs_record(message: &aws_sdk_sqs::types::Message, queue_url: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_owned);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.body = message.body().map(str::to_owned);
    record.md5_of_body = message.md5_of_body().map(str::to_owned);
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = queue_arn(queue_url);
    record.aws_region = Some(queue_region(queue_url).unwrap_or(LOCAL_REGION).to_owned());
    if let Some(attributes) = message.attributes() {
        record.attributes =
            attributes.iter().map(|(name, value)| (name.as_str().to_owned(), value.clone())).collect();
    }
    record
}

/// The SQS event of `records`.
pub fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// The region a queue URL names nothing of: a local emulator's.
const LOCAL_REGION: &str = "us-east-1";

/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` → `REGION`.
fn queue_region(url: &str) -> Option<&str> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    host.strip_prefix("sqs.")?.split('.').next()
}

/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` → `arn:aws:sqs:REGION:ACCOUNT:NAME` (a local
/// emulator's URL gets `us-east-1`).
pub fn queue_arn(url: &str) -> Option<String> {
    let mut path = url.split("://").nth(1)?.split('/').skip(1);
    let (account, name) = (path.next()?, path.next()?);
    Some(format!("arn:aws:sqs:{}:{account}:{name}", queue_region(url).unwrap_or(LOCAL_REGION)))
}

#[cfg(test)]
mod sqs_tests {
    use super::*;

    #[test]
    fn a_record_names_the_queue_it_came_from() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/dev-queue";
        assert_eq!(queue_arn(url).as_deref(), Some("arn:aws:sqs:eu-west-1:123456789012:dev-queue"));
        let local = "http://127.0.0.1:5000/123456789012/q";
        assert_eq!(queue_arn(local).as_deref(), Some("arn:aws:sqs:us-east-1:123456789012:q"));
        let record =
            sqs_record(&aws_sdk_sqs::types::Message::builder().message_id("m1").body("{}").build(), url);
        assert_eq!(record.aws_region.as_deref(), Some("eu-west-1"));
        assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    }
}
