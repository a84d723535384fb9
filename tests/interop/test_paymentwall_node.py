"""The official Node.js SDK (npm `paymentwall` 2.1.1, unmodified) against a real Kassa.

The SDK runs in `node` (scripts in `paymentwall_node/`, dependencies from its package-lock with
`npm ci --prefix tests/interop/paymentwall_node`). The only change from talking to Paymentwall is
the SDK's `WIDGET_BASE_URL`, set at run time. Links built by `Widget.getUrl()` are opened and
paid on Kassa's payment page; every pingback is checked by the SDK's
`new Pingback(query, ip).validate(true)` (`true` skips its Paymentwall IP whitelist) before the
merchant answers `OK`.

Without `paymentwall_node/node_modules` (or without `node`) these tests skip, unless
KASSA_REQUIRE_INTEROP=1, which makes them fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from paymentwall_support import (
    CANCELLED,
    DAY,
    EXPIRED,
    NEGATIVE,
    PAYMENT,
    PAYMENT_FAILED,
    advance_clock,
    assert_paid,
    card_fields,
    create_project,
    http,
    open_link,
    page,
    pay,
    subscription_of,
    ticket,
    ticket_ok,
)

NODE_DIR = Path(__file__).resolve().parent / "paymentwall_node"
NODE_TIMEOUT_S = 20
SDK_API = {"digital_goods": "goods", "virtual_currency": "vc", "cart": "cart"}


def _node_missing() -> Optional[str]:
    if shutil.which("node") is None:
        return "`node` is not installed"
    if not (NODE_DIR / "node_modules" / "paymentwall" / "package.json").is_file():
        return (
            f"{NODE_DIR / 'node_modules'} lacks the paymentwall SDK "
            "(run `npm ci --prefix tests/interop/paymentwall_node`)"
        )
    return None


@pytest.fixture
def node_sdk():
    reason = _node_missing()
    if reason:
        if os.environ.get("KASSA_REQUIRE_INTEROP") == "1":
            pytest.fail(f"KASSA_REQUIRE_INTEROP=1 but {reason}")
        pytest.skip(reason)


def node(script: str, payload: dict) -> str:
    done = subprocess.run(
        ["node", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        cwd=NODE_DIR,
    )
    assert done.returncode == 0, f"node {script} failed ({done.returncode}): {done.stderr}\n{payload}"
    return done.stdout.strip()


def node_link(kassa, project, uid: str, products: list, extra: dict, widget: str = "p1_1") -> str:
    return node(
        "build_link.js",
        {
            "base": kassa.url("/api"),
            "api": SDK_API[project.api_type],
            "key": project.key,
            "secret": project.secret,
            "uid": uid,
            "widget": widget,
            "products": products,
            "extra": extra,
        },
    )


def node_sign(project, params: dict, version: int) -> str:
    return node("sign_params.js", {"params": params, "secret": project.secret, "version": version})


def node_validator(project):
    """The receiver's check: the Node SDK's verdict; the detail is its full JSON answer."""

    def validate(query, params, client_ip):
        out = node(
            "validate_pingback.js",
            {
                "api": SDK_API[project.api_type],
                "key": project.key,
                "secret": project.secret,
                "query": query,
                "ip": client_ip,
            },
        )
        return json.loads(out)["valid"] is True, out

    return validate


def verdict(pb) -> dict:
    return json.loads(pb.detail)


GOLD = {"id": "product301", "amount": 9.99, "currency": "USD", "name": "Gold Membership"}
MONTHLY = {**GOLD, "type": "subscription", "period_length": 1, "period_type": "month", "recurring": True}
TRIAL = {
    **MONTHLY,
    "trial": {
        "id": "trial301",
        "amount": 0.99,
        "currency": "USD",
        "name": "Trial",
        "type": "subscription",
        "period_length": 7,
        "period_type": "day",
        "recurring": True,
    },
}


def test_node_one_time_link_paid_then_refunded(node_sdk, kassa, pingbacks):
    project = create_project(kassa, "digital_goods", pingbacks.url("node"))
    pingbacks.check_with("node", node_validator(project))
    url = node_link(
        kassa, project, "user40012", [GOLD], {"ps": "cc", "success_url": "https://merchant.example/ok?t=$ref"}
    )
    # Node encodes the space as %20 (Python as +): both must verify.
    assert url.startswith(kassa.url("/api/subscription?")) and "ag_name=Gold%20Membership" in url, url
    order = open_link(url)
    payment = assert_paid(pay(order, card_fields()))
    assert (payment["amount"], payment["currency"], payment["uid"]) == ("9.99", "USD", "user40012")

    (pb,) = pingbacks.wait_for_type(PAYMENT, "node")
    v = verdict(pb)
    assert v["valid"] and v["deliverable"] and not v["cancelable"], v
    assert v["unique_id"] == f"{payment['id']}_0", v
    # The SDK's default (no skip) refuses anything but Paymentwall's own addresses.
    assert v["valid_without_ip_skip"] is False, v
    assert pb.get("goodsid") == "product301" and pb.get("sign_version") == "3", pb

    # Refund through the Cancellation API, signed with the Node SDK's widget signature.
    params = {"key": project.key, "ref": payment["id"], "uid": "user40012", "type": "1", "sign_version": "3"}
    ticket_ok(ticket(kassa, params, lambda p: node_sign(project, p, 3)))
    (refund,) = pingbacks.wait_for_type(NEGATIVE, "node")
    v = verdict(refund)
    assert v["valid"] and v["cancelable"] and refund.get("reason") == "9", v

    # Node renders 10 as "10.00" (Python "10.0", PHP "10"): accepted as signed.
    url10 = node_link(kassa, project, "user40012", [{**GOLD, "id": "ten", "amount": 10}], {"ps": "cc"})
    assert "&amount=10.00&" in url10, url10
    assert "$10.00" in page(open_link(url10)).text
    # A tampered Node link is refused.
    r = http("GET", url10.replace("&amount=10.00&", "&amount=1.00&"))
    assert r.status == 403 and "not authorized" in r.text, (r.status, r.text[:1000])

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, NEGATIVE], [p.query for p in got]


def test_node_subscription_renewed_cancelled_expired(node_sdk, kassa, pingbacks):
    project = create_project(kassa, "digital_goods", pingbacks.url("node"), sign_version=2)
    pingbacks.check_with("node", node_validator(project))
    url = node_link(kassa, project, "user-sub", [MONTHLY], {"ps": "test"})
    assert "ag_recurring=1" in url and "ag_period_type=month" in url, url
    assert_paid(pay(open_link(url), {}))  # the Test method: one click
    (first,) = pingbacks.wait_for_type(PAYMENT, "node")
    assert (first.get("slength"), first.get("speriod"), first.get("is_test")) == ("1", "month", "1")
    sub = subscription_of(kassa, project, "user-sub")

    advance_clock(kassa, sub["id"], 32 * DAY)
    pingbacks.wait_for_type(PAYMENT, "node", count=2)
    params = {"key": project.key, "ref": first.get("ref"), "uid": "user-sub", "type": "2", "sign_version": "2"}
    ticket_ok(ticket(kassa, params, lambda p: node_sign(project, p, 2)))
    pingbacks.wait_for_type(CANCELLED, "node")
    advance_clock(kassa, sub["id"], 32 * DAY)
    pingbacks.wait_for_type(EXPIRED, "node")

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, PAYMENT, CANCELLED, EXPIRED], [p.query for p in got]


def test_node_trial_link_with_failing_renewals(node_sdk, kassa, pingbacks):
    project = create_project(
        kassa, "digital_goods", pingbacks.url("node"), settings={"renewal_retry_seconds": 600}
    )
    pingbacks.check_with("node", node_validator(project))
    url = node_link(kassa, project, "user-trial", [TRIAL], {"ps": "cc", "test_mode": "1"})
    assert "ag_trial=1" in url and "post_trial_amount=9.99" in url and "amount=0.99" in url, url
    order = open_link(url)
    assert "Trial for 7 days, then $9.99 every month" in page(order).text
    assert_paid(pay(order, card_fields("4000000000000341")))
    (first,) = pingbacks.wait_for_type(PAYMENT, "node")
    assert (first.get("goodsid"), first.get("slength"), first.get("speriod")) == ("trial301", "7", "day")

    sub = subscription_of(kassa, project, "user-trial")
    for seconds in (8 * DAY, 601, 601):
        after = advance_clock(kassa, sub["id"], seconds)
    pingbacks.wait_for_type(PAYMENT_FAILED, "node")
    assert after["status"] == "failed" and after["failed_attempts"] == 3, after

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, PAYMENT_FAILED], [p.query for p in got]


def test_node_cart_link_paid(node_sdk, kassa, pingbacks):
    project = create_project(kassa, "cart", pingbacks.url("node"))
    pingbacks.check_with("node", node_validator(project))
    items = [
        {"id": "product301", "amount": 3.33, "currency": "EUR"},
        {"id": "product607", "amount": 7.77, "currency": "EUR"},
    ]
    url = node_link(kassa, project, "user-cart", items, {"ps": "cc"})
    assert url.startswith(kassa.url("/api/cart?")) and "sign_version=2" in url, url
    result = pay(open_link(url), card_fields())
    payment = assert_paid(result)
    assert "€11.10" in result.text

    (pb,) = pingbacks.wait_for_type(PAYMENT, "node")
    assert (pb.get("goodsid[0]"), pb.get("goodsid[1]")) == ("product301", "product607"), pb
    assert pb.get("ref") == payment["id"]
    assert verdict(pb)["deliverable"]

    params = {"key": project.key, "ref": payment["id"], "uid": "user-cart", "type": "1", "sign_version": "2"}
    ticket_ok(ticket(kassa, params, lambda p: node_sign(project, p, 2)))
    pingbacks.wait_for_type(NEGATIVE, "node")

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, NEGATIVE], [p.query for p in got]
