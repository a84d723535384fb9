"""The native subscription engine's events, checked with the official Standard Webhooks library.

A customer on a test clock saves a card with a first payment, subscribes with a trial, and the
clock is advanced through the trial's notice, its end, two renewals, then a card whose renewals
decline through its retries to the final action. Every delivery must verify with
``standardwebhooks`` (unmodified), and the events must tell the whole story.
"""

from __future__ import annotations

import json

from standardwebhooks.webhooks import Webhook

WAIT_S = 20
DAY = 86_400
# A fixed time in January 2027 (09:00 UTC), so the months ahead have known lengths.
T0 = 1_800_000_000 - 1_800_000_000 % DAY + 9 * 3600


def _ok(status, body, what):
    assert status == 200, f"{what}: HTTP {status}: {body}"
    return body


def _saved_card(kassa, customer: str, number: str) -> str:
    pi = _ok(*kassa.request("POST", "/v1/payment_intents", {"amount": 100, "currency": "usd", "customer": customer}), "intent")
    paid = _ok(
        *kassa.request(
            "POST",
            f"/v1/payment_intents/{pi['id']}/confirm",
            {"setup_future_usage": "off_session",
             "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}},
        ),
        "saving a card",
    )
    return paid["payment_method"]["id"]


def test_billing_events_verify_and_tell_the_story(kassa, receiver):
    endpoint = _ok(
        *kassa.request("POST", "/v1/webhook_endpoints", {"url": receiver.url("/hook"), "enabled_events": ["*"]}),
        "endpoint",
    )
    webhook = Webhook(endpoint["secret"])
    clock = _ok(*kassa.request("POST", "/v1/test_helpers/test_clocks", {"frozen_time": T0}), "clock")
    customer = _ok(*kassa.request("POST", "/v1/customers", {"email": "py@example.com", "test_clock": clock["id"]}), "customer")
    good = _saved_card(kassa, customer["id"], "4242424242424242")
    sub = _ok(
        *kassa.request(
            "POST",
            "/v1/subscriptions",
            {"customer": customer["id"], "default_payment_method": good, "trial_period_days": 7,
             "items": [{"price_data": {"currency": "usd", "unit_amount": 1200, "recurring": {"interval": "month"},
                                       "product_data": {"name": "Team"}}, "quantity": 1}]},
        ),
        "subscription",
    )
    assert sub["status"] == "trialing", sub

    def advance(to):
        _ok(*kassa.request("POST", f"/v1/test_helpers/test_clocks/{clock['id']}/advance", {"frozen_time": to}), "advance")

    trial_end = T0 + 7 * DAY
    advance(trial_end + 60)  # the notice, then the first invoice
    advance(trial_end + 62 * DAY)  # two renewals
    bad = _saved_card(kassa, customer["id"], "4000000000000341")
    _ok(*kassa.request("POST", f"/v1/subscriptions/{sub['id']}", {"default_payment_method": bad}), "update")
    advance(trial_end + 130 * DAY)  # the next renewal fails, and so do its three retries
    final = _ok(*kassa.request("GET", f"/v1/subscriptions/{sub['id']}"), "subscription")
    assert final["status"] == "canceled", final

    def mine(deliveries):
        out = []
        for d in deliveries:
            obj = d.json()["data"]["object"]
            if obj.get("id") == sub["id"] or obj.get("subscription") == sub["id"]:
                out.append(d)
        return out

    deliveries = receiver.wait_for(lambda ds: len(mine(ds)) >= 6 + 4 + 3 + 4, WAIT_S, "every billing event")
    events = []
    for d in mine(deliveries):
        payload = webhook.verify(d.body, d.headers)
        assert payload == json.loads(d.body)
        events.append(payload)
    types = [e["type"] for e in events]
    assert types.count("customer.subscription.created") == 1, types
    assert types.count("customer.subscription.trial_will_end") == 1, types
    assert types.count("invoice.created") == 4, types
    assert types.count("invoice.paid") == 3, types
    assert types.count("invoice.payment_failed") == 4, types
    assert types.count("customer.subscription.deleted") == 1, types
    notice = next(e for e in events if e["type"] == "customer.subscription.trial_will_end")
    assert notice["data"]["object"]["trial_end"] == trial_end
    failed = [e["data"]["object"] for e in events if e["type"] == "invoice.payment_failed"]
    # Several events share a second, so the attempts are compared as a set: each reported once.
    assert sorted(f["attempt_count"] for f in failed) == [1, 2, 3, 4], failed
    deleted = next(e for e in events if e["type"] == "customer.subscription.deleted")
    assert deleted["data"]["object"]["status"] == "canceled"
