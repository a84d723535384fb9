"""Kassa's webhooks, checked with the official Standard Webhooks library (unmodified).

Kassa signs each delivery itself; here an independent implementation of the spec
(``standardwebhooks`` from PyPI) must accept every delivery it received, and reject it once the
body, the signature, the message id or the secret is changed.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WAIT_S = 15


def _replace(headers: dict, name: str, value: str) -> dict:
    """`headers` with `name` (any casing) set to `value`."""
    out = {k: v for k, v in headers.items() if k.lower() != name}
    out[name] = value
    return out


def _types(deliveries) -> Counter:
    return Counter(d.json().get("type") for d in deliveries)


def test_every_delivery_verifies_with_the_standard_webhooks_library(kassa, receiver):
    status, endpoint = kassa.request(
        "POST",
        "/v1/webhook_endpoints",
        {"url": receiver.url("/hook"), "enabled_events": ["*"]},
    )
    assert status in (200, 201), f"creating the endpoint: HTTP {status}: {endpoint}"
    assert endpoint["id"].startswith("we_"), endpoint
    secret = endpoint["secret"]
    assert secret.startswith("whsec_"), endpoint
    webhook = Webhook(secret)

    # One payment that succeeds...
    paid = kassa.create_intent(receiver.url("/done"))
    status, body = kassa.confirm(paid["id"], "pm_card_visa")
    assert status == 200, f"confirming with pm_card_visa: HTTP {status}: {body}"
    assert body["status"] == "succeeded", body
    # ...and one the issuer declines (no 3-D Secure involved).
    declined = kassa.create_intent(receiver.url("/done"), amount=2500)
    status, body = kassa.confirm(declined["id"], "pm_card_chargeDeclined")
    assert 400 <= status < 500, f"a declined card must be refused: HTTP {status}: {body}"
    assert kassa.intent(declined["id"])["status"] == "requires_payment_method"

    def has_outcomes(deliveries):
        got = _types(deliveries)
        return got["payment_intent.succeeded"] >= 1 and got["payment_intent.payment_failed"] >= 1

    receiver.wait_for(has_outcomes, WAIT_S, "payment_intent.succeeded and payment_intent.payment_failed")
    deliveries = receiver.snapshot()
    assert deliveries

    by_type = {}
    for d in deliveries:
        assert d.path == "/hook"
        assert d.header("content-type").startswith("application/json"), d.headers
        # The library does every check of the spec: headers present, timestamp within tolerance,
        # a v1 signature over "id.timestamp.body" with the secret's key.
        payload = webhook.verify(d.body, d.headers)
        assert payload == json.loads(d.body)
        assert d.header("webhook-id") == payload["id"]
        assert payload["id"].startswith("evt_"), payload
        by_type.setdefault(payload["type"], []).append(payload)

    succeeded = by_type["payment_intent.succeeded"]
    assert [e["data"]["object"]["id"] for e in succeeded] == [paid["id"]]
    assert succeeded[0]["data"]["object"]["status"] == "succeeded"
    assert succeeded[0]["data"]["object"]["amount"] == 1000
    failed = by_type["payment_intent.payment_failed"]
    assert [e["data"]["object"]["id"] for e in failed] == [declined["id"]]
    assert failed[0]["data"]["object"]["amount"] == 2500
    # Each event is delivered under its own id (redeliveries would repeat it; none are expected
    # here since the receiver always answers 200).
    ids = [d.header("webhook-id") for d in deliveries]
    assert len(ids) == len(set(ids)), f"an event was delivered twice: {ids}"

    # The same library must reject anything altered, or the checks above prove nothing.
    sample = next(d for d in deliveries if json.loads(d.body)["type"] == "payment_intent.succeeded")
    tampered_body = sample.body.replace(b'"amount":1000', b'"amount":1')
    assert tampered_body != sample.body, "the tampering must change the body"
    with pytest.raises(WebhookVerificationError):
        webhook.verify(tampered_body, sample.headers)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(sample.body + b" ", sample.headers)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(sample.body, _replace(sample.headers, "webhook-id", "evt_someoneelse"))
    version, sig = sample.header("webhook-signature").split(" ")[0].split(",")
    assert version == "v1"
    flipped = bytearray(base64.b64decode(sig))
    flipped[0] ^= 1
    forged = f"v1,{base64.b64encode(bytes(flipped)).decode()}"
    with pytest.raises(WebhookVerificationError):
        webhook.verify(sample.body, _replace(sample.headers, "webhook-signature", forged))
    other_secret = "whsec_" + base64.b64encode(b"\x01" * 24).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(sample.body, sample.headers)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(sample.body, {k: v for k, v in sample.headers.items() if k.lower() != "webhook-timestamp"})
