"""The official Python SDK (PyPI `paymentwall-python` 1.0.9, unmodified) against a real Kassa.

The only change a merchant makes to move from Paymentwall to Kassa is the SDK's base URL
(`Widget.BASE_URL`, a class attribute, set at run time). Links are built with the SDK's `Widget`
and `Product`, opened and paid on Kassa's payment page, and every pingback Kassa sends is
checked by the SDK's own `Pingback(params, ip).validate(skip_ip_whitelist_check=True)` before the
merchant answers `OK`: a pingback the SDK rejects fails the test.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager

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
    continue_link,
    create_project,
    http,
    open_link,
    page,
    pay,
    subscription_of,
    ticket,
    ticket_ok,
)

paymentwall = pytest.importorskip("paymentwall")
from paymentwall import Paymentwall, Pingback, Product, Widget  # noqa: E402

SDK_API = {
    "digital_goods": Paymentwall.API_GOODS,
    "virtual_currency": Paymentwall.API_VC,
    "cart": Paymentwall.API_CART,
}

# The SDK keeps its configuration (API type, keys) in class attributes: one project at a time,
# between the test thread building links and the receiver thread checking pingbacks.
_sdk_lock = threading.RLock()


@contextmanager
def configured(project):
    with _sdk_lock:
        Paymentwall.set_api_type(SDK_API[project.api_type])
        Paymentwall.set_app_key(project.key)
        Paymentwall.set_secret_key(project.secret)
        yield


@pytest.fixture
def sdk(kassa, monkeypatch):
    """Points the SDK's widget base URL at this Kassa (restored after the test)."""
    assert Widget.BASE_URL == "https://api.paymentwall.com/api", Widget.BASE_URL
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    # The SDK's error list is class-wide too; keep it per test.
    monkeypatch.setattr(Paymentwall, "errors", [])
    yield


def sdk_params(params: dict) -> dict:
    """The query as the SDK wants it: array parameters (`goodsid[0]`, `goodsid[1]` of a Cart
    pingback) as one list under their base name, the way PHP's `$_GET` groups them. The SDK
    signs a list as `goodsid[0]=…goodsid[1]=…` and `Pingback.get_products()` reads it."""
    out: dict = {}
    arrays: dict = {}
    for name, value in params.items():
        m = re.fullmatch(r"([^\[\]]+)\[(\d+)\]", name)
        if m:
            arrays.setdefault(m[1], {})[int(m[2])] = value
        else:
            out[name] = value
    for name, items in arrays.items():
        assert sorted(items) == list(range(len(items))), f"{name} indexes are not 0..n-1: {params}"
        out[name] = [items[i] for i in range(len(items))]
    return out


def sdk_validator(project):
    """A merchant's pingback check, as the SDK README has it, with the IP whitelist skipped
    (Kassa's pingbacks come from the merchant's own Kassa, not Paymentwall's addresses)."""

    def validate(query, params, client_ip):
        with configured(project):
            errors = Paymentwall.get_errors()
            before = len(errors)
            valid = Pingback(sdk_params(params), client_ip).validate(True)
            return valid, "; ".join(errors[before:])

    return validate


def link(project, uid: str, products: list, extra: dict, widget: str = "p1_1") -> str:
    with configured(project):
        w = Widget(uid, widget, products, extra)
        url = w.get_url()
        assert not Paymentwall.get_errors(), Paymentwall.get_error_summary()
    return url


def widget_sign(project, params: dict, version: int) -> str:
    """The Cancellation API is signed like a widget call: the SDK's own signature function."""
    return Widget.calculate_signature(params, project.secret, version)


GOLD = dict(product_id="product301", amount=9.99, currency_code="USD", name="Gold Membership")


def test_one_time_product_paid_by_card_then_refunded(kassa, sdk, pingbacks):
    project = create_project(kassa, "digital_goods", pingbacks.url("shop"))
    pingbacks.check_with("shop", sdk_validator(project))
    url = link(
        project,
        "user40012",
        [Product(**GOLD)],
        {"ps": "cc", "email": "user@hostname.com", "success_url": "https://merchant.example/ok?t=$ref"},
    )
    assert url.startswith(kassa.url("/api/subscription?")), url
    order = open_link(url)
    # The same link finds the same unpaid order.
    assert open_link(url) == order

    shown = page(order)
    assert shown.state == "form" and "pay-form" in shown.parsed.ids, shown.text[:2000]
    assert "$9.99" in shown.text and "Gold Membership" in shown.text
    payment = assert_paid(pay(order, card_fields("4242 4242 4242 4242")))
    ref = payment["id"]
    assert (payment["amount"], payment["currency"], payment["uid"]) == ("9.99", "USD", "user40012"), payment
    assert (payment["product_id"], payment["payment_system"]) == ("product301", "cc"), payment

    (pb,) = pingbacks.wait_for_type(PAYMENT, "shop")
    assert pb.valid, pb
    assert pb.get("ref") == ref and pb.get("uid") == "user40012"
    assert pb.get("goodsid") == "product301"
    assert pb.get("slength") == "" and pb.get("speriod") == ""
    assert pb.get("sign_version") == "3"
    with configured(project):
        sdk_pb = Pingback(dict(pb.params), pb.client_ip)
        assert sdk_pb.is_deliverable() and not sdk_pb.is_cancelable()
        assert sdk_pb.get_product_id() == "product301"
        assert sdk_pb.get_pingback_unique_id() == f"{ref}_0"
        # Without the skip, the SDK's hard-coded Paymentwall IP list refuses loopback.
        assert not Pingback(dict(pb.params), pb.client_ip).validate()
        assert Paymentwall.get_errors()[-1] == "IP address is not whitelisted"

    # The thank-you page links back to success_url with $ref replaced.
    assert continue_link(page(order)) == f"https://merchant.example/ok?t={ref}"

    # Refund through the Cancellation API, signed by the SDK: a type 2 pingback, reason 9.
    params = {
        "key": project.key,
        "ref": ref,
        "uid": "user40012",
        "type": "1",
        "message": "cancelled order",
        "sign_version": "3",
    }
    ticket_ok(ticket(kassa, params, lambda p: widget_sign(project, p, 3)))
    (refund,) = pingbacks.wait_for_type(NEGATIVE, "shop")
    assert refund.get("ref") == ref and refund.get("reason") == "9", refund
    with configured(project):
        assert Pingback(dict(refund.params), refund.client_ip).is_cancelable()
    # A badly signed ticket is refused.
    bad = ticket(kassa, {**params, "message": "again"}, lambda p: "0" * 64)
    assert bad.status == 403 and "Wrong signature" in bad.text, (bad.status, bad.text)

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, NEGATIVE], [p.query for p in got]


def test_tampered_sdk_link_is_refused(kassa, sdk, pingbacks):
    project = create_project(kassa, "digital_goods", pingbacks.url("shop"))
    url = link(project, "user40012", [Product(**GOLD)], {"ps": "cc"})
    assert "&amount=9.99&" in url, url
    for tampered in (
        url.replace("&amount=9.99&", "&amount=0.99&"),
        url.replace("&currencyCode=USD&", "&currencyCode=EUR&"),
        url.replace("uid=user40012", "uid=someone-else"),
    ):
        r = http("GET", tampered)
        assert r.status == 403, (r.status, tampered, r.text[:500])
        assert "not authorized" in r.text, r.text[:2000]
    # The untouched link still opens.
    open_link(url)


def test_monthly_subscription_renews_then_is_cancelled_and_expires(kassa, sdk, pingbacks):
    project = create_project(kassa, "digital_goods", pingbacks.url("subs"), sign_version=2)
    pingbacks.check_with("subs", sdk_validator(project))
    monthly = Product(
        **GOLD,
        product_type=Product.TYPE_SUBSCRIPTION,
        period_length=1,
        period_type=Product.PERIOD_TYPE_MONTH,
        recurring=True,
    )
    url = link(project, "user-sub", [monthly], {"ps": "test"})
    assert "ag_recurring=1" in url and "ag_period_type=month" in url, url
    order = open_link(url)
    # The Test method: one click, no fields.
    assert_paid(pay(order, {}))

    (first,) = pingbacks.wait_for_type(PAYMENT, "subs")
    assert first.get("slength") == "1" and first.get("speriod") == "month", first
    assert first.get("is_test") == "1" and first.get("sign_version") == "2", first
    sub = subscription_of(kassa, project, "user-sub")

    # A month later on the test clock: the renewal, with a new ref.
    advance_clock(kassa, sub["id"], 32 * DAY)
    renewals = pingbacks.wait_for_type(PAYMENT, "subs", count=2)
    assert renewals[1].get("ref") != first.get("ref"), renewals
    assert renewals[1].get("goodsid") == "product301"

    # The Cancellation API (type 2 = cancel the subscription): type 12 at once.
    params = {"key": project.key, "ref": first.get("ref"), "uid": "user-sub", "type": "2", "sign_version": "2"}
    ticket_ok(ticket(kassa, params, lambda p: widget_sign(project, p, 2)))
    pingbacks.wait_for_type(CANCELLED, "subs")
    # The paid month runs out: type 13.
    advance_clock(kassa, sub["id"], 32 * DAY)
    pingbacks.wait_for_type(EXPIRED, "subs")

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, PAYMENT, CANCELLED, EXPIRED], [p.query for p in got]
    pingbacks.assert_quiet(4)


def test_trial_then_post_trial_renewal_and_failed_renewals(kassa, sdk, pingbacks):
    project = create_project(
        kassa, "digital_goods", pingbacks.url("trial"), settings={"renewal_retry_seconds": 3600}
    )
    pingbacks.check_with("trial", sdk_validator(project))

    def trial_link(uid):
        trial = Product(
            "trial301", 0.99, "USD", "Trial", Product.TYPE_SUBSCRIPTION, 7, Product.PERIOD_TYPE_DAY, True
        )
        main = Product(
            **GOLD,
            product_type=Product.TYPE_SUBSCRIPTION,
            period_length=1,
            period_type=Product.PERIOD_TYPE_MONTH,
            recurring=True,
            trial_product=trial,
        )
        # test_mode=1: a card payment in test mode, so the subscription has a test clock.
        url = link(project, uid, [main], {"ps": "cc", "test_mode": "1"})
        assert "ag_trial=1" in url and "post_trial_amount=9.99" in url, url
        return url

    # A good card: the trial, then the main product a week later.
    order = open_link(trial_link("user-ok"))
    shown = page(order)
    assert "Trial for 7 days, then $9.99 every month" in shown.text, shown.text[:3000]
    assert_paid(pay(order, card_fields("4242 4242 4242 4242")))
    (first,) = pingbacks.wait_for_type(PAYMENT, "trial", uid="user-ok")
    assert (first.get("goodsid"), first.get("slength"), first.get("speriod")) == ("trial301", "7", "day")
    advance_clock(kassa, subscription_of(kassa, project, "user-ok")["id"], 8 * DAY)
    renewal = pingbacks.wait_for_type(PAYMENT, "trial", count=2, uid="user-ok")[1]
    assert renewal.get("goodsid") == "product301", renewal
    assert (renewal.get("slength"), renewal.get("speriod")) == ("1", "month"), renewal

    # A card whose renewals are all declined: three attempts, then type 14.
    order = open_link(trial_link("user-declined"))
    assert_paid(pay(order, card_fields("4000 0000 0000 0341")))
    pingbacks.wait_for_type(PAYMENT, "trial", uid="user-declined")
    sub = subscription_of(kassa, project, "user-declined")
    advance_clock(kassa, sub["id"], 8 * DAY)
    advance_clock(kassa, sub["id"], 3601)
    after = advance_clock(kassa, sub["id"], 3601)
    (failed,) = pingbacks.wait_for_type(PAYMENT_FAILED, "trial", uid="user-declined")
    assert after["status"] == "failed" and after["failed_attempts"] == 3, after

    got = pingbacks.assert_all_valid()
    assert sorted(p.type for p in got) == sorted([PAYMENT, PAYMENT, PAYMENT, PAYMENT_FAILED]), [
        p.query for p in got
    ]


def test_cart_paid_then_refunded(kassa, sdk, pingbacks):
    project = create_project(kassa, "cart", pingbacks.url("cart"))
    pingbacks.check_with("cart", sdk_validator(project))
    products = [Product("product301", 3.33, "EUR"), Product("product607", 7.77, "EUR")]
    url = link(project, "user-cart", products, {"ps": "cc"})
    assert url.startswith(kassa.url("/api/cart?")) and "sign_version=2" in url, url
    order = open_link(url)
    result = pay(order, card_fields())
    payment = assert_paid(result)
    assert "€11.10" in result.text, result.text[:3000]

    (pb,) = pingbacks.wait_for_type(PAYMENT, "cart")
    assert pb.get("goodsid[0]") == "product301" and pb.get("goodsid[1]") == "product607", pb
    assert pb.get("sign_version") == "2", pb
    assert pb.get("ref") == payment["id"], (pb, payment)
    with configured(project):
        sdk_pb = Pingback(sdk_params(pb.params), pb.client_ip)
        assert [p.get_id() for p in sdk_pb.get_products()] == ["product301", "product607"]

    params = {"key": project.key, "ref": pb.get("ref"), "uid": "user-cart", "type": "1", "sign_version": "2"}
    ticket_ok(ticket(kassa, params, lambda p: widget_sign(project, p, 2)))
    (refund,) = pingbacks.wait_for_type(NEGATIVE, "cart")
    assert refund.get("ref") == pb.get("ref")

    got = pingbacks.assert_all_valid()
    assert [p.type for p in got] == [PAYMENT, NEGATIVE], [p.query for p in got]
