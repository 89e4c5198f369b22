// The receiver's job in Node.js, written the way a Node.js user would pick: the official
// `standardwebhooks` package verifies a Standard Webhooks `v1` delivery, the AWS SDK v3 SQS client
// enqueues it, and the handler answers 200 (or 401). It exists only so `tests/bin/footprint` can measure
// the Rust receiver against the stack users would otherwise choose, on the same signed events.
//
// It does the same work per `v1` delivery as `functions/receiver` (verify, hash the body, build the
// ingest message, SendMessage with the same attributes, log a line) and deliberately nothing more: no
// `v1a`, no JWT, no Secrets Manager, no metrics. That only flatters Node.js in the comparison.

import { createHash } from "node:crypto";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Webhook } from "standardwebhooks";

const queueUrl = process.env.INGEST_QUEUE_URL;
// Several secrets during a rotation, space-separated, as the Rust receiver reads them.
const webhooks = (process.env.WEBHOOK_SECRETS ?? "")
  .split(/\s+/)
  .filter(Boolean)
  .map((secret) => new Webhook(secret));
// The Rust receiver's timeouts: 1 s to connect, 2 s per attempt, so a hung queue becomes a 503.
const sqs = new SQSClient({ requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } });

const answer = (statusCode, body) => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Verifies one delivery against every configured secret; the parsed event, or undefined. */
function verify(body, headers) {
  for (const webhook of webhooks) {
    try {
      return webhook.verify(body, headers);
    } catch {
      // Not this secret (or not valid at all): try the next one.
    }
  }
  return undefined;
}

/** An API Gateway HTTP API / Function URL event (payload format 2.0) in, its response out. */
export async function handler(event) {
  if (event.requestContext?.http?.method !== "POST") {
    return answer(405, { error: "method_not_allowed" });
  }
  const body = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString() : (event.body ?? "");
  const headers = event.headers ?? {};
  const payload = verify(body, headers);
  if (payload === undefined || typeof payload?.type !== "string") {
    return answer(401, { error: "signature_mismatch" });
  }
  const webhookId = headers["webhook-id"];
  const message = {
    webhook_id: webhookId,
    webhook_timestamp: Number(headers["webhook-timestamp"]),
    received_at: Date.now(),
    scheme: "v1",
    body_sha256: createHash("sha256").update(body).digest("hex"),
    event: payload,
  };
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: {
          webhook_id: { DataType: "String", StringValue: webhookId },
          event_type: { DataType: "String", StringValue: payload.type },
        },
      }),
    );
  } catch (error) {
    console.error(JSON.stringify({ level: "ERROR", message: "enqueue failed", error: String(error) }));
    return answer(503, { error: "enqueue_failed" });
  }
  console.log(JSON.stringify({ level: "INFO", message: "accepted", webhook_id: webhookId, type: payload.type }));
  return answer(200, { status: "accepted", webhook_id: webhookId });
}
