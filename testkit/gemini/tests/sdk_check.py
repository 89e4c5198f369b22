"""Google's own Python SDK (google-genai) against the local Gemini simulator: every WebhookService call
the simulator implements, under v1beta and under v1 (the SDK 3.x default). Exits 0 when every call
worked and every answer parsed into the SDK's models with the values expected; prints what failed.

Usage: sdk_check.py BASE_URL API_KEY
"""

import sys

from google import genai
from google.genai import errors


def check(version: str, base: str, key: str) -> None:
    client = genai.Client(api_key=key, http_options={"base_url": base, "api_version": version})
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

    wrong = genai.Client(api_key="wrong", http_options={"base_url": base, "api_version": version})
    try:
        wrong.webhooks.list()
        raise AssertionError("a wrong key was accepted")
    except AssertionError:
        raise
    except Exception as error:
        assert "400" in str(error) or "API key not valid" in str(error), error


def main() -> None:
    base, key = sys.argv[1], sys.argv[2]
    for version in ("v1beta", "v1"):
        check(version, base, key)
    print("ok")


if __name__ == "__main__":
    main()
