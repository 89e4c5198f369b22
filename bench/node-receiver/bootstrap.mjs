// A minimal Lambda custom-runtime loop for index.mjs: load the handler (Lambda's init phase), then
// poll the Runtime API for the next invocation, run it, post the result, forever.
//
// Honest note for the footprint comparison: the managed `nodejs20.x` runtime does not use this loop but
// its own runtime interface client (a larger module, with more bookkeeping: callback support, context
// methods, structured error reporting, log formatting), started by a shell script. That client is a bit
// heavier to start and to keep than this loop, so measuring this loop flatters Node.js, never Rust.

import http from "node:http";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
// One keep-alive connection to the Runtime API, as a runtime client keeps.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = "/2018-06-01/runtime";

/** One request to the Runtime API; resolves with the status, headers and body text. */
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: base + path, agent }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) {
      req.setHeader("content-type", "application/json");
      req.end(body);
    } else {
      req.end();
    }
  });
}

const { handler } = await import("./index.mjs");

for (;;) {
  const next = await request("GET", "/invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  try {
    const result = await handler(JSON.parse(next.body), {
      awsRequestId: id,
      invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
      getRemainingTimeInMillis: () => Number(next.headers["lambda-runtime-deadline-ms"]) - Date.now(),
    });
    await request("POST", `/invocation/${id}/response`, JSON.stringify(result ?? null));
  } catch (error) {
    const report = { errorType: error?.name ?? "Error", errorMessage: String(error?.message ?? error) };
    await request("POST", `/invocation/${id}/error`, JSON.stringify(report));
  }
}
