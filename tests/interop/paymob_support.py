"""Helpers for the Paymob-dialect interop tests (PyPI Paymob clients against a real Kassa).

The merchant's side of a Paymob integration, driven over plain HTTP: create a profile with its
integrations through Kassa's native API, pay through `POST /api/acceptance/payments/pay` the way
the hosted checkout's script does, answer the 3-D Secure or wallet page the way its HTML form
does, settle a kiosk or cash bill in the sandbox, and read the processed callbacks (POST JSON
with `?hmac=`) that the conftest receiver recorded.

Nothing here computes a TRANSACTION or TOKEN callback's HMAC itself: every such signature is
checked by the validators of the two PyPI clients under test, `paymobz`
(`WebhookResource.verify_mac`) and `paymob-solutions` (`paymob.accept.HMACValidator`), both
unmodified. The one exception is the subscription callback (HMAC in its JSON body), for which
neither client ships a validator: `subscription_hmac_valid` checks it by Paymob's published rule.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

# Every wait is bounded. Callbacks go out within ~100 ms of the event (the test Kassa polls its
# outbox every 50 ms); this only stops a test that would otherwise hang.
CALLBACK_WAIT_S = 15.0
HTTP_TIMEOUT_S = 15.0

# The published test data (reference §7).
TEST_CARD = "5123456789012346"
DECLINED_CARD = "4000000000000002"
# Pays its first payment (3-D Secure included), then declines every renewal of a subscription.
RENEWALS_DECLINE_CARD = "4000000000000341"
WALLET_PHONE = "01010101010"
WALLET_MPIN = WALLET_OTP = "123456"

# The legacy flow requires every billing field; merchants send "NA" for the ones they lack.
BILLING = {
    "apartment": "NA",
    "email": "claudette09@exa.com",
    "floor": "NA",
    "first_name": "Clifford",
    "street": "Ethan Land",
    "building": "8028",
    "phone_number": "+86(8)9135210487",
    "shipping_method": "PKG",
    "postal_code": "01898",
    "city": "Jaskolskiburgh",
    "country": "CR",
    "last_name": "Nicolas",
    "state": "Utah",
}

# The receiver paths the profile's integrations call back to.
CALLBACK_PATH = "/paymob/processed"
RETURN_PATH = "/done"
# Where a subscription plan's `webhook_url` sends the subscription callbacks.
SUBSCRIPTION_PATH = "/paymob/subscription"

DAY = 86_400  # seconds, for the test clock


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the tests look at every 303 themselves
        return None


# Direct connections only (conftest already keeps loopback out of any proxy), no redirects.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


@dataclass
class Response:
    status: int
    headers: Any
    text: str

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)

    def json(self) -> Any:
        return json.loads(self.text)


def http(
    method: str,
    url: str,
    body: Optional[dict] = None,
    form: Optional[dict] = None,
    headers: Optional[dict] = None,
) -> Response:
    """One request (JSON `body` or urlencoded `form`), no redirects followed; any status is
    returned, not raised."""
    data = None
    req_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        req_headers.setdefault("Content-Type", "application/json")
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        req_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    req = urllib.request.Request(url, data=data, method=method, headers=req_headers)
    try:
        with _opener.open(req, timeout=HTTP_TIMEOUT_S) as resp:
            return Response(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read().decode("utf-8", "replace"))


# ---------------------------------------------------------------------------------------------
# Profiles and integrations (Kassa's native API)
# ---------------------------------------------------------------------------------------------


@dataclass
class PmProfile:
    id: int
    public_key: str
    secret_key: str
    hmac_secret: str
    api_key: str
    iframe_id: int
    integrations: dict  # name -> integration object
    raw: dict

    def integration_id(self, name: str) -> int:
        return self.integrations[name]["id"]


ALL_KINDS = ("card", "card_auth", "moto", "wallet", "kiosk", "cash")


def create_profile(
    kassa,
    receiver,
    kinds: tuple = ALL_KINDS,
    *,
    three_d_secure: Optional[bool] = None,
    name: str = "Shop",
    frame_ancestors: Optional[str] = None,
) -> PmProfile:
    """A profile whose integrations (one per kind, default names) all call back to the
    receiver: processed callbacks to `CALLBACK_PATH`, the customer's redirect to `RETURN_PATH`.
    `three_d_secure` overrides the card integrations' default (on); `frame_ancestors` names the
    sites that may frame the profile's pages (Kassa's default: none)."""
    integrations = []
    for kind in kinds:
        spec = {
            "kind": kind,
            "processed_callback_url": receiver.url(CALLBACK_PATH),
            "response_callback_url": receiver.url(RETURN_PATH),
        }
        if three_d_secure is not None and kind in ("card", "card_auth"):
            spec["three_d_secure"] = three_d_secure
        integrations.append(spec)
    body = {"name": name, "country": "egy", "integrations": integrations}
    if frame_ancestors is not None:
        body["frame_ancestors"] = frame_ancestors
    status, p = kassa.request("POST", "/v1/paymob/profiles", body)
    assert status == 200, f"creating a Paymob profile: HTTP {status}: {p}"
    assert p["frame_ancestors"] == (frame_ancestors or "'none'"), p
    assert p["public_key"].startswith("egy_pk_test_"), p
    assert p["secret_key"].startswith("egy_sk_test_"), p
    assert p["api_key"].startswith("ZXlK"), p
    assert len(p["hmac_secret"]) >= 16, p
    by_name = {i["name"]: i for i in p["integrations"]}
    assert len(by_name) == len(kinds), p["integrations"]
    return PmProfile(
        p["id"], p["public_key"], p["secret_key"], p["hmac_secret"], p["api_key"], p["iframe_id"], by_name, p
    )


def set_frame_ancestors(kassa, profile: PmProfile, value: str) -> dict:
    """`POST /v1/paymob/profiles/{id}`: where the profile's pages (unified checkout, Pixel's card
    frame, 3-D Secure and wallet pages, legacy iframe, status page) may be framed."""
    status, p = kassa.request("POST", f"/v1/paymob/profiles/{profile.id}", {"frame_ancestors": value})
    assert status == 200, f"setting frame_ancestors: HTTP {status}: {p}"
    assert p["frame_ancestors"] == value, p
    return p


def settle(kassa, transaction_id: int, paid: bool = True) -> dict:
    """The sandbox's stand-in for the customer paying (or not) a kiosk or cash bill."""
    status, body = kassa.request(
        "POST", f"/v1/paymob/transactions/{transaction_id}/sandbox_settle", {"paid": paid}
    )
    assert status == 200, f"settling {transaction_id}: HTTP {status}: {body}"
    return body


# ---------------------------------------------------------------------------------------------
# The customer's side: the pay API and the 3-D Secure / wallet page
# ---------------------------------------------------------------------------------------------


def card_source(number: str = TEST_CARD, cvn: str = "123", save_card: bool = False) -> dict:
    source = {
        "subtype": "CARD",
        "identifier": number,
        "sourceholder_name": "Test Account",
        "expiry_month": "01",
        "expiry_year": "39",
        "cvn": cvn,
    }
    if save_card:
        source["save_card"] = True
    return source


def wallet_source(phone: str = WALLET_PHONE) -> dict:
    return {"subtype": "WALLET", "identifier": phone}


def pay(kassa, payment_token: str, source: dict) -> dict:
    """`POST /api/acceptance/payments/pay` (no auth: the payment token is the credential), as
    the hosted checkout sends it; returns the transaction (string booleans)."""
    r = http(
        "POST",
        kassa.url("/api/acceptance/payments/pay"),
        {"source": source, "payment_token": payment_token, "api_source": "IFRAME"},
    )
    assert r.status == 200, f"pay: HTTP {r.status}: {r.text[:2000]}"
    txn = r.json()
    assert isinstance(txn.get("id"), int) and txn["id"] > 0, txn
    for flag in ("success", "pending", "is_3d_secure"):
        assert txn[flag] in ("true", "false"), f"{flag} is not a string boolean: {txn[flag]!r}"
    return txn


def answer_challenge(kassa, page_url: str, action: str = "approve", **fields) -> str:
    """Shows the 3-D Secure (or wallet) page, then submits its form the way the browser does;
    returns the absolute URL of the 303 redirect (the signed response callback)."""
    assert page_url.startswith(kassa.url("/api/acceptance/challenge/")), page_url
    shown = http("GET", page_url)
    assert shown.status == 200 and 'id="challenge-form"' in shown.text, (shown.status, shown.text[:2000])
    r = http("POST", page_url, form={"action": action, **fields})
    assert r.status == 303, f"POST {page_url}: HTTP {r.status}: {r.text[:2000]}"
    return urllib.parse.urljoin(page_url, r.header("Location") or "")


def query_of(url: str) -> dict:
    """A redirect's query, URL-decoded (as a merchant's web framework hands it over)."""
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True, strict_parsing=True))


def path_of(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return f"{u.scheme}://{u.netloc}{u.path}"


# ---------------------------------------------------------------------------------------------
# Callbacks as the merchant's endpoint received them
# ---------------------------------------------------------------------------------------------


@dataclass
class Callback:
    """One processed (or token) callback: the JSON body and the `hmac` query parameter."""

    path: str
    query: dict
    body: dict

    @property
    def hmac(self) -> str:
        return self.query.get("hmac", "")

    @property
    def type(self) -> str:
        return self.body.get("type", "")

    @property
    def obj(self) -> dict:
        return self.body.get("obj") or {}


def callbacks(receiver) -> list:
    out = []
    for d in receiver.snapshot():
        url = urllib.parse.urlsplit(d.path)
        if url.path != CALLBACK_PATH:
            continue
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        out.append(Callback(d.path, query, d.json()))
    return out


def wait_callbacks(receiver, predicate: Callable[[list], bool], what: str, timeout: float = CALLBACK_WAIT_S) -> list:
    """Waits until `predicate(callbacks so far)` holds; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        got = callbacks(receiver)
        if predicate(got):
            return got
        if time.monotonic() > deadline:
            seen = [(c.type, c.obj.get("id"), c.obj.get("success"), c.obj.get("pending")) for c in got]
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {seen}")
        time.sleep(0.05)


def transaction_callbacks(receiver, txn_id: int) -> list:
    return [c for c in callbacks(receiver) if c.type == "TRANSACTION" and c.obj.get("id") == txn_id]


def wait_transaction_callback(receiver, txn_id: int, count: int = 1, **match) -> Callback:
    """Waits for the `count`-th TRANSACTION callback of `txn_id` whose obj matches `match`;
    returns the last one."""

    def hits(got):
        return [
            c for c in got
            if c.type == "TRANSACTION" and c.obj.get("id") == txn_id
            and all(c.obj.get(k) == v for k, v in match.items())
        ]

    got = wait_callbacks(
        receiver, lambda g: len(hits(g)) >= count, f"{count} TRANSACTION callback(s) for {txn_id} with {match}"
    )
    return hits(got)[count - 1]


def wait_token_callback(receiver) -> Callback:
    got = wait_callbacks(receiver, lambda g: any(c.type == "TOKEN" for c in g), "a TOKEN callback")
    return next(c for c in got if c.type == "TOKEN")


def assert_quiet(receiver, count: int, settle_s: float = 0.3) -> list:
    """No further callback arrives within `settle_s` seconds; returns them all."""
    time.sleep(settle_s)
    got = callbacks(receiver)
    assert len(got) == count, (
        f"expected {count} callbacks, got {[(c.type, c.obj.get('id'), c.obj.get('success')) for c in got]}"
    )
    return got


# ---------------------------------------------------------------------------------------------
# The two SDKs' HMAC validators
# ---------------------------------------------------------------------------------------------


def redirect_as_callback(query: dict) -> dict:
    """The response callback's flattened query (`order`, `source_data.pan`, …) in the shape
    both SDKs' validators take: neither has a GET validator, so merchants nest the query the
    way the processed callback carries it (`order.id` is the query's `order`). Values stay the
    strings they arrived as; booleans are already `true`/`false`."""
    obj: dict = {}
    for k, v in query.items():
        if k == "hmac":
            continue
        if k == "order":
            obj["order"] = {"id": v}
        elif "." in k:
            parent, child = k.split(".", 1)
            obj.setdefault(parent, {})[child] = v
        else:
            obj[k] = v
    return {"type": "TRANSACTION", "obj": obj}


@contextmanager
def solutions_secret(hmac_secret: str):
    """paymob-solutions reads its HMAC secret from a class attribute (`Credentials`, filled
    from the environment at import): set it for the duration of a check."""
    from paymob.accept.config import Credentials

    before = Credentials.ACCEPT_HMAC_SECRET
    Credentials.ACCEPT_HMAC_SECRET = hmac_secret
    try:
        yield
    finally:
        Credentials.ACCEPT_HMAC_SECRET = before


def paymobz_valid(hmac_secret: str, body: dict, received: str) -> bool:
    from paymobz.resources.webhooks import WebhookResource

    return WebhookResource(hmac_secret=hmac_secret).verify_mac(body, received)


def solutions_valid(hmac_secret: str, body: dict, received: str) -> bool:
    """paymob-solutions' callback entry point, `AcceptCallback(hmac, body).is_valid` (it picks
    the TRANSACTION, TOKEN or DELIVERY_STATUS field list by the body's `type`)."""
    from paymob.accept.callbacks import AcceptCallback

    with solutions_secret(hmac_secret):
        return AcceptCallback(received, body).is_valid


def verdicts(hmac_secret: str, body: dict, received: str) -> dict:
    return {
        "paymobz": paymobz_valid(hmac_secret, body, received),
        "paymob-solutions": solutions_valid(hmac_secret, body, received),
    }


def assert_callback_valid(profile: PmProfile, cb: Callback) -> None:
    """A TRANSACTION callback passes both SDKs' checks."""
    assert cb.type == "TRANSACTION", cb.body
    assert len(cb.hmac) == 128 and cb.hmac == cb.hmac.lower(), cb.query
    got = verdicts(profile.hmac_secret, cb.body, cb.hmac)
    assert got == {"paymobz": True, "paymob-solutions": True}, f"HMAC refused: {got}\n{cb.path}\n{cb.body}"


def assert_redirect_valid(profile: PmProfile, url: str) -> dict:
    """The signed response redirect passes both SDKs' checks; returns its query."""
    query = query_of(url)
    received = query.get("hmac", "")
    assert len(received) == 128, url
    got = verdicts(profile.hmac_secret, redirect_as_callback(query), received)
    assert got == {"paymobz": True, "paymob-solutions": True}, f"HMAC refused: {got}\n{url}"
    return query


def assert_tamper_detected(profile: PmProfile, body: dict, received: str) -> None:
    got = verdicts(profile.hmac_secret, body, received)
    assert got == {"paymobz": False, "paymob-solutions": False}, f"a tampered message passed: {got}\n{body}"


# ---------------------------------------------------------------------------------------------
# Subscriptions: plans, the test clock, subscription callbacks
# ---------------------------------------------------------------------------------------------


def secret_key_call(kassa, profile: PmProfile, method: str, path: str, body: dict | None = None) -> Response:
    """A Paymob API call with the profile's secret key (`Authorization: Token <secret key>`)."""
    return http(method, kassa.url(path), body, headers={"Authorization": f"Token {profile.secret_key}"})


def create_plan(kassa, profile: PmProfile, receiver, **fields) -> dict:
    """`POST /api/acceptance/subscription-plans` on the profile's MOTO integration, its
    subscription callbacks to the receiver's `SUBSCRIPTION_PATH`; `fields` add to or override
    the plan's."""
    body = {
        "integration": profile.integration_id("moto"),
        "webhook_url": receiver.url(SUBSCRIPTION_PATH),
        **fields,
    }
    r = secret_key_call(kassa, profile, "POST", "/api/acceptance/subscription-plans", body)
    assert r.status == 201, f"creating a subscription plan: HTTP {r.status}: {r.text[:1000]}"
    plan = r.json()
    assert isinstance(plan.get("id"), int) and plan["frequency"] == body["frequency"], plan
    return plan


def subscription_action(kassa, profile: PmProfile, sub_id: int, action: str) -> dict:
    """`POST /api/acceptance/subscriptions/{id}/suspend|resume|cancel`; returns the subscription."""
    r = secret_key_call(kassa, profile, "POST", f"/api/acceptance/subscriptions/{sub_id}/{action}")
    assert r.status == 200, f"{action} of subscription {sub_id}: HTTP {r.status}: {r.text[:1000]}"
    return r.json()


def subscription_transactions(kassa, profile: PmProfile, sub_id: int) -> list:
    """`GET /api/acceptance/subscriptions/{id}/transactions`: the first payment and every renewal
    attempt, newest first."""
    r = secret_key_call(kassa, profile, "GET", f"/api/acceptance/subscriptions/{sub_id}/transactions")
    assert r.status == 200, f"transactions of subscription {sub_id}: HTTP {r.status}: {r.text[:1000]}"
    page = r.json()
    assert page["count"] == len(page["results"]), page
    return page["results"]


def advance_subscription_clock(kassa, sub_id: int, seconds: int) -> dict:
    """`POST /v1/paymob/subscriptions/{id}/advance_clock` with the merchant's native key: runs
    every renewal, retry and end the subscription's test clock passes (the first call freezes
    the clock at the present), before answering the subscription."""
    status, sub = kassa.request("POST", f"/v1/paymob/subscriptions/{sub_id}/advance_clock", {"seconds": seconds})
    assert status == 200, f"advancing subscription {sub_id} by {seconds} s: HTTP {status}: {sub}"
    assert sub["id"] == sub_id, sub
    return sub


@dataclass
class SubscriptionCallback:
    """One subscription callback: a JSON body with `subscription_data`, `trigger_type` and its
    `hmac` (no query parameter)."""

    path: str
    body: dict

    @property
    def trigger(self) -> str:
        return self.body.get("trigger_type", "")

    @property
    def data(self) -> dict:
        return self.body.get("subscription_data") or {}

    @property
    def hmac(self) -> str:
        return self.body.get("hmac", "")


def subscription_callbacks(receiver, sub_id: int | None = None) -> list:
    """The subscription callbacks (of `sub_id`, or all) received so far, in arrival order."""
    out = []
    for d in receiver.snapshot():
        if urllib.parse.urlsplit(d.path).path != SUBSCRIPTION_PATH:
            continue
        cb = SubscriptionCallback(d.path, d.json())
        if sub_id is None or cb.data.get("id") == sub_id:
            out.append(cb)
    return out


def wait_subscription_started(
    receiver, initial_transaction: int, timeout: float = CALLBACK_WAIT_S
) -> SubscriptionCallback:
    """Waits for the `created` callback of the subscription that payment `initial_transaction`
    started (its id is not known before); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        for cb in subscription_callbacks(receiver):
            if cb.trigger == "created" and cb.data.get("initial_transaction") == initial_transaction:
                return cb
        if time.monotonic() > deadline:
            got = [
                (c.trigger, c.data.get("id"), c.data.get("initial_transaction"))
                for c in subscription_callbacks(receiver)
            ]
            raise AssertionError(
                f"timed out after {timeout} s waiting for the subscription started by transaction "
                f"{initial_transaction}; got {got}"
            )
        time.sleep(0.05)


def wait_subscription_callbacks(receiver, sub_id: int, count: int, timeout: float = CALLBACK_WAIT_S) -> list:
    """Waits until `sub_id` has had `count` subscription callbacks; returns them all."""
    deadline = time.monotonic() + timeout
    while True:
        got = subscription_callbacks(receiver, sub_id)
        if len(got) >= count:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {count} callbacks of subscription {sub_id}; "
                f"got {[c.trigger for c in got]}"
            )
        time.sleep(0.05)


def subscription_hmac_valid(hmac_secret: str, body: dict) -> bool:
    """A subscription callback's `hmac` (in its JSON body), by Paymob's published rule:
    HMAC-SHA512 keyed with the profile's HMAC secret over `f"{trigger_type}for{subscription_id}"`,
    hex digest.

    No client ships a validator for it: paymobz's `WebhookResource.verify_mac` and
    paymob-solutions' `HMACValidator` / `AcceptCallback` only know the TRANSACTION, TOKEN and
    DELIVERY_STATUS callbacks (`obj` field lists), so this is the one HMAC the suite computes."""
    data = body.get("subscription_data") or {}
    message = f"{body.get('trigger_type', '')}for{data.get('id', '')}"
    expected = hmac.new(hmac_secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, str(body.get("hmac", "")))


def assert_subscription_callback_valid(profile: PmProfile, cb: SubscriptionCallback) -> None:
    """A subscription callback's body HMAC is right, and fails for another trigger or id."""
    assert len(cb.hmac) == 128 and cb.hmac == cb.hmac.lower(), cb.body
    assert subscription_hmac_valid(profile.hmac_secret, cb.body), f"subscription HMAC refused:\n{cb.body}"
    other = "canceled" if cb.trigger != "canceled" else "created"
    assert not subscription_hmac_valid(profile.hmac_secret, {**cb.body, "trigger_type": other})
    moved = {**cb.data, "id": cb.data["id"] + 1}
    assert not subscription_hmac_valid(profile.hmac_secret, {**cb.body, "subscription_data": moved})


# ---------------------------------------------------------------------------------------------
# Pointing paymob-solutions at Kassa
# ---------------------------------------------------------------------------------------------

PAYMOB_HOST = "https://accept.paymob.com"


def point_solutions_at(monkeypatch, base: str, api_key: str, hmac_secret: str) -> None:
    """paymob-solutions builds every endpoint URL once, at import, from `PAYMOB_ACCEPT_BASE_URL`
    (`URLsConfig`, class attributes) and reads its keys from `Credentials`. Each test has its
    own Kassa, so swap the base URL in those attributes instead (restored after the test)."""
    from paymob.accept.config import Credentials, URLsConfig

    assert URLsConfig.ACCEPT_BASE_URL == PAYMOB_HOST, URLsConfig.ACCEPT_BASE_URL
    for name, value in list(vars(URLsConfig).items()):
        if isinstance(value, str) and value.startswith(PAYMOB_HOST):
            monkeypatch.setattr(URLsConfig, name, base + value[len(PAYMOB_HOST):])
    monkeypatch.setattr(Credentials, "ACCEPT_API_KEY", api_key)
    monkeypatch.setattr(Credentials, "ACCEPT_HMAC_SECRET", hmac_secret)


# ---------------------------------------------------------------------------------------------
# A merchant's own web site (for Pixel), on another origin than Kassa
# ---------------------------------------------------------------------------------------------


class MerchantSite:
    """Serves the HTML pages put in `pages` (path -> HTML) on 127.0.0.1, addressed as
    `http://localhost:<port>`: another origin than Kassa's `http://127.0.0.1:<port>`."""

    def __init__(self):
        self.pages: dict = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = site.pages.get(urllib.parse.urlsplit(self.path).path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path: str, page: str) -> str:
        self.pages[path] = page
        return self.origin + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
