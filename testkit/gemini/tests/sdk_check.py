"""Google's own Python SDK (google-genai) against the local Gemini simulator: every WebhookService call
the simulator implements, and the jobs calls (files, batches, interactions, their cancels, and video
through Interactions, as SDK 3.x makes it: it refuses `generate_videos` on the Developer API), under the SDK's default version
(which must be v1, as in google-genai 3.6: the project's default follows it) and under v1beta. Exits 0 when every call worked and every answer parsed into the SDK's models with the
values expected; prints what failed. The simulator must be started with jobs that end only when told
(`POST /_sim/{job}:finish`).

Usage: sdk_check.py BASE_URL API_KEY
"""

import base64
import io
import json
import sys
import urllib.request

from google import genai
from google.genai import errors, types


def client_for(version, base: str, key: str) -> genai.Client:
    """A client of `base`, at `version`, or at the SDK's default when None."""
    options = {"base_url": base}
    if version is not None:
        options["api_version"] = version
    return genai.Client(api_key=key, http_options=options)


def check(version, base: str, key: str) -> None:
    client = client_for(version, base, key)
    if version is None:
        default = client._api_client._http_options.api_version
        assert default == "v1", f"the SDK's default version is {default}, and the project's is v1"
    hooks = client.webhooks

    created = hooks.create(subscribed_events=["batch.succeeded", "video.generated"], uri="https://example.com/h", name="sdk")
    assert created.id, created
    assert created.new_signing_secret and created.new_signing_secret.startswith("whsec_"), created
    assert created.state == "enabled", created.state
    assert created.signing_secrets[0].truncated_secret.startswith("whsec_..."), created.signing_secrets
    assert created.create_time is not None, "create_time parses as a datetime"
    second = hooks.create(subscribed_events=["batch.failed"], uri="https://example.com/h2")

    page = hooks.list(page_size=1)
    assert len(page.webhooks) == 1 and page.next_page_token, page
    rest = hooks.list(page_size=1000, page_token=page.next_page_token)
    ids = {w.id for w in page.webhooks} | {w.id for w in rest.webhooks}
    assert {created.id, second.id} <= ids, ids

    got = hooks.get(created.id)
    assert got.uri == "https://example.com/h" and got.new_signing_secret is None, got

    updated = hooks.update(created.id, update_mask="state,subscribed_events", state="disabled", subscribed_events=["batch.failed"])
    assert updated.state == "disabled" and updated.subscribed_events == ["batch.failed"], updated
    assert hooks.update(created.id, state="enabled").state == "enabled"

    hooks.ping(created.id)

    rotated = hooks.rotate_signing_secret(created.id, revocation_behavior="revoke_previous_secrets_after_h24")
    assert rotated.secret and rotated.secret != created.new_signing_secret, rotated
    after = hooks.get(created.id)
    assert len(after.signing_secrets) == 2 and after.signing_secrets[1].expire_time is not None, after
    hooks.rotate_signing_secret(created.id, revocation_behavior="revoke_previous_secrets_immediately")
    assert len(hooks.get(created.id).signing_secrets) == 1

    hooks.delete(created.id)
    hooks.delete(second.id)
    try:
        hooks.get(created.id)
        raise AssertionError("a deleted webhook was found")
    except errors.APIError as error:
        assert error.code == 404, error
    except Exception as error:  # the SDK's generated layer raises its own error types
        assert "404" in str(error), error

    wrong = client_for(version, base, "wrong")
    try:
        wrong.webhooks.list()
        raise AssertionError("a wrong key was accepted")
    except AssertionError:
        raise
    except Exception as error:
        assert "400" in str(error) or "API key not valid" in str(error), error


def finish(base: str, job: str, outcome: str) -> None:
    """Ends a job now, through the simulator's own path."""
    request = urllib.request.Request(f"{base}/_sim/{job}:finish", data=json.dumps({"outcome": outcome}).encode(), method="POST")
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200, answer.status


def state(job) -> str:
    return getattr(job.state, "name", str(job.state))


def check_jobs(version, base: str, key: str) -> None:
    client = client_for(version, base, key)
    hook = {"uris": ["http://127.0.0.1:9/hook"], "user_metadata": {"run": "sdk"}}
    line = b'{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n'

    # Over the SDK's 8 MiB chunk: `upload` at offset 0, then `upload, finalize` at its offset.
    lines = line * (9 * 2**20 // len(line) + 1)
    upload = client.files.upload(file=io.BytesIO(lines), config={"mime_type": "application/jsonl", "display_name": "in"})
    assert upload.name.startswith("files/") and upload.size_bytes == len(lines), upload
    assert client.files.get(name=upload.name).display_name == "in"

    batch = client.batches.create(model="gemini-2.5-flash", src=upload.name, config={"display_name": "sdk", "webhook_config": hook})
    assert batch.name.startswith("batches/") and state(batch) == "JOB_STATE_RUNNING", batch
    finish(base, batch.name, "succeeded")
    done = client.batches.get(name=batch.name)
    assert state(done) == "JOB_STATE_SUCCEEDED" and done.dest.file_name.startswith("files/"), done
    assert done.end_time is not None and done.end_time >= done.create_time, done
    results = client.files.download(file=done.dest.file_name)
    assert len(results.splitlines()) == len(lines.splitlines()), len(results)
    assert json.loads(results.splitlines()[0])["key"] == "a"

    to_cancel = client.batches.create(model="gemini-2.5-flash", src=upload.name, config={"webhook_config": hook})
    client.batches.cancel(name=to_cancel.name)
    assert state(client.batches.get(name=to_cancel.name)) == "JOB_STATE_CANCELLED"
    failed = client.batches.create(model="gemini-2.5-flash", src=upload.name)
    finish(base, failed.name, "failed")
    failed = client.batches.get(name=failed.name)
    # The SDK reads no `error` from the Developer API's batch (its own choice); the state says it.
    assert state(failed) == "JOB_STATE_FAILED", failed

    interaction = client.interactions.create(model="gemini-2.5-flash", input="hello", background=True, webhook_config=hook)
    assert interaction.id and interaction.status == "in_progress", interaction
    finish(base, f"interactions/{interaction.id}", "succeeded")
    completed = client.interactions.get(interaction.id)
    assert completed.status == "completed" and completed.steps[-1].type == "model_output", completed
    running = client.interactions.create(model="gemini-2.5-flash", input="again", background=True, webhook_config=hook)
    assert client.interactions.cancel(running.id).status == "cancelled"
    assert client.interactions.get(running.id).status == "cancelled"

    # Video, as google-genai 3.x makes it: an interaction with a video model and `response_format`
    # video, its output a video content block (a file to download, or the bytes inline).
    for delivery in ("uri", "inline"):
        video = client.interactions.create(model="gemini-omni-flash-preview", input="a cat", background=True,
                                           response_format={"type": "video", "delivery": delivery}, webhook_config=hook)
        finish(base, f"interactions/{video.id}", "succeeded")
        made = client.interactions.get(video.id)
        out = made.output_video
        assert made.status == "completed" and out is not None and out.mime_type == "video/mp4", made
        if delivery == "uri":
            assert out.uri and not out.data, out
            # The SDK reads the file's id out of an https URI (Google's), then downloads from its base
            # URL: the local Gemini's http is given as https for that, and nothing is fetched from it.
            uri = out.uri.replace("http://", "https://", 1)
            data = client.files.download(file=types.Video(uri=uri))
        else:
            data = base64.b64decode(out.data) if isinstance(out.data, str) else out.data
        assert data[:12] == b"\x00\x00\x00\x18ftypmp42", (delivery, data[:16])

    try:
        client.batches.cancel(name="batches/nosuchbatch")
        raise AssertionError("an unknown batch was cancelled")
    except errors.APIError as error:
        assert error.code == 404, error


def main() -> None:
    base, key = sys.argv[1], sys.argv[2]
    for version in (None, "v1beta"):
        check(version, base, key)
        check_jobs(version, base, key)
    print("ok")


if __name__ == "__main__":
    main()
