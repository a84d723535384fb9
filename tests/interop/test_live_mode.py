"""Live mode end to end: a production Kassa behind an https base URL takes live payments through
a merchant's Stripe account (localstripe, a fake Stripe run from the virtualenv), and every
notification of those payments is checked by an independent, unmodified library:

* native: the webhooks of a live payment and its partial refund verify with `standardwebhooks`
  and say `livemode: true`; an endpoint registered with the test key receives none of them;
* Paymob: a live profile's payment and refund callbacks pass the HMAC checks of BOTH PyPI Paymob
  clients (`paymobz`, `paymob-solutions`) and say `is_live: true`;
* Paymentwall: a link signed with the project's live key by the official Python SDK opens a
  live order whose pingbacks the SDK validates with the LIVE secret (not the test one), without
  `is_test=1`.

Every payment uses a card number no test suite publishes: Kassa declines the sandbox's (and
Paymob's) published test cards in live mode (`test_mode_live_card`) before any processor is
asked, which the tests check too.

Production has no demo merchant: each test creates its merchant and live keys with the
`kassa merchant create` / `kassa merchant keys` commands on the test's fresh database (SQLite and
PostgreSQL, conftest's `database_url`), then starts `kassa serve --profile production` with
`KASSA_BASE_URL=https://pay.example` (the server itself is plain http on loopback; links it
prints use the base URL and are rewritten to the loopback address before being followed),
`KASSA_EGRESS_ALLOW=127.0.0.1` (the merchant's receivers are on loopback) and the Stripe
connector pointed at localstripe (`KASSA_STRIPE_COMPAT=localstripe`). localstripe runs once per
pytest process (session fixture) on a free port; tests stay independent by their own merchants,
keys and amounts.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paymentwall_support as pw
import pytest
from conftest import (
    _PROXY_VARS,
    MASTER_KEY,
    REPO_ROOT,
    START_TIMEOUT_S,
    Kassa,
    _stop_kassa,
    kassa_bin,
    wait_until,
)
from paymob_support import (
    BILLING,
    CALLBACK_PATH,
    RETURN_PATH,
    TEST_CARD,
    PmProfile,
    assert_callback_valid,
    assert_quiet,
    assert_redirect_valid,
    callbacks,
    card_source,
    path_of,
    pay,
    paymobz_valid,
    solutions_valid,
    wait_transaction_callback,
)
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

pytest.importorskip("paymobz")
pytest.importorskip("paymob.accept")
pytest.importorskip("paymentwall")
from paymentwall import Paymentwall, Pingback, Product, Widget
from paymobz.client.sync import PaymobClient
from paymobz.config import PaymobConfig
from paymobz.exceptions import ValidationError
from paymobz.models.transaction_action import TransactionActionRequest

# The https address Kassa is configured with; the server itself listens on plain loopback http.
LIVE_BASE = "https://pay.example"
# The merchant's Stripe account as Kassa is given it (localstripe takes any `sk_…`; live mode
# requires a live one) and the signing secret of its Stripe webhook endpoint.
STRIPE_KEY = "sk_live_kassa_pytest_0001"
STRIPE_WEBHOOK_SECRET = "whsec_kassa_pytest_0001"
# A Luhn-valid card number nobody publishes as a test card: Kassa sends it on to Stripe.
LIVE_CARD = "4485275742308327"
# One of Paymob's published test cards (README "Sandbox"), also on Kassa's live-mode list.
PAYMOB_VISA_TEST_CARD = "4111111111111111"
# Bounds of every wait on a notification.
WAIT_S = 15.0
CLI_TIMEOUT_S = 60.0

# Each payment gets its own amount, so what localstripe (shared by the process's tests) holds can
# be attributed to one test.
_amounts = itertools.count(4101)
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# localstripe
# ---------------------------------------------------------------------------------------------


@dataclass
class Localstripe:
    base: str

    def get(self, path: str) -> dict:
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {STRIPE_KEY}"})
        with _opener.open(req, timeout=15) as resp:
            return json.loads(resp.read())

    def charge_of(self, intent: dict) -> dict:
        """An intent's latest charge (localstripe expands it; Stripe gives its id)."""
        charge = intent["latest_charge"]
        return charge if isinstance(charge, dict) else self.get(f"/v1/charges/{charge}")

    def intents_of(self, amount: int) -> list:
        """The PaymentIntents Stripe holds for `amount` (each test pays its own amounts)."""
        return [p for p in self.get("/v1/payment_intents?limit=100")["data"] if p["amount"] == amount]


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """localstripe 1.15 from the virtualenv on a free loopback port, once per pytest process;
    stopped at the end."""
    binary = REPO_ROOT / ".venv" / "bin" / "localstripe"
    if not binary.is_file():
        reason = f"{binary} not found: install tests/interop/requirements.txt into .venv"
        if os.environ.get("KASSA_REQUIRE_INTEROP") == "1":
            pytest.fail(f"KASSA_REQUIRE_INTEROP=1 but {reason}")
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "--port", str(port), "--from-scratch"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Localstripe(f"http://127.0.0.1:{port}")

    def answers():
        if proc.poll() is not None:
            raise AssertionError(f"localstripe exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            return server.get("/v1/payment_intents?limit=1") is not None
        except (urllib.error.URLError, OSError, ValueError):
            return False

    try:
        wait_until(answers, 30.0, f"localstripe to answer on port {port}", interval=0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# A production Kassa with one merchant and its live keys
# ---------------------------------------------------------------------------------------------


@dataclass
class LiveKassa:
    """The server (`kassa.request` defaults to the merchant's TEST key) and the live keys."""

    kassa: Kassa
    merchant_id: str
    live_key: str
    live_publishable_key: str

    @property
    def base(self) -> str:
        return self.kassa.base

    @property
    def test_key(self) -> str:
        return self.kassa.secret_key

    def url(self, path: str) -> str:
        return self.kassa.url(path)

    def local(self, url: str) -> str:
        """A URL Kassa wrote with its public https base, as reachable here."""
        assert url.startswith((LIVE_BASE + "/", self.base + "/")), url
        return self.base + url[len(LIVE_BASE):] if url.startswith(LIVE_BASE + "/") else url

    def live(self, method: str, path: str, body: dict | None = None):
        return self.kassa.request(method, path, body, key=self.live_key)

    def test(self, method: str, path: str, body: dict | None = None):
        return self.kassa.request(method, path, body, key=self.test_key)

    def add_stripe_account(self) -> dict:
        status, a = self.live(
            "POST",
            "/v1/processor_accounts",
            {"connector": "stripe", "credentials": {"secret_key": STRIPE_KEY, "webhook_secret": STRIPE_WEBHOOK_SECRET}},
        )
        assert status == 200, f"adding the Stripe account: HTTP {status}: {a}"
        assert (a["livemode"], a["status"], a["connector"]) == (True, "active", "stripe"), a
        assert STRIPE_KEY not in json.dumps(a), a
        assert a["webhook_url"] == f"{LIVE_BASE}/v1/processor_webhooks/{a['id']}", a
        return a


def _env(database_url: str, localstripe: Localstripe) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_") and k not in _PROXY_VARS}
    env.update(
        KASSA_PROFILE="production",
        KASSA_BASE_URL=LIVE_BASE,
        KASSA_DATABASE_URL=database_url,
        KASSA_MASTER_KEY=MASTER_KEY,
        KASSA_EGRESS_ALLOW="127.0.0.1",
        KASSA_STRIPE_API_BASE=localstripe.base,
        KASSA_STRIPE_COMPAT="localstripe",
        KASSA_STRIPE_TIMEOUT_SECS="10",
        KASSA_WEBHOOK_POLL_INTERVAL_MS="50",
        RUST_LOG="warn",
    )
    return env


def _cli(args: list, database_url: str, env: dict, workdir: Path) -> dict:
    """`kassa <args> --json` in the production profile on `database_url`; its JSON answer."""
    done = subprocess.run(
        [str(kassa_bin()), *args, "--json", "--profile", "production", "--base-url", LIVE_BASE,
         "--database-url", database_url],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=env,
        cwd=workdir,
    )
    assert done.returncode == 0, f"kassa {' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
    return json.loads(done.stdout)


def _start_production(database_url: str, env: dict, workdir: Path) -> Kassa:
    """`kassa serve --profile production` on a free port; returns once /readyz answers 200.
    (No demo merchant: the returned Kassa carries no keys yet.)"""
    stdout_path, stderr_path = workdir / "kassa.stdout", workdir / "kassa.stderr"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [str(kassa_bin()), "serve", "--profile", "production", "--listen", "127.0.0.1:0",
             "--base-url", LIVE_BASE, "--database-url", database_url],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=workdir,
        )
    kassa = Kassa("", "", "", proc, stdout_path, stderr_path)

    def listening():
        if proc.poll() is not None:
            raise AssertionError(f"kassa exited early with {proc.returncode}\n{kassa.logs()}")
        return re.search(r"Kassa is listening on (http://127\.0\.0\.1:\d+)", stdout_path.read_text(errors="replace"))

    def ready():
        try:
            with _opener.open(kassa.url("/readyz"), timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    try:
        kassa.base = wait_until(listening, START_TIMEOUT_S, "Kassa's listening line")[1]
        assert "Demo merchant" not in stdout_path.read_text(errors="replace"), kassa.logs()
        wait_until(ready, START_TIMEOUT_S, "GET /readyz to answer 200")
    except BaseException:
        _stop_kassa(kassa)
        raise
    return kassa


@pytest.fixture
def live_kassa(database_url, tmp_path, localstripe):
    """A production Kassa on a fresh database, with one merchant made by the CLI (its test keys
    from `merchant create`, its live keys from `merchant keys --mode live`); stopped with
    SIGTERM afterwards, which must exit cleanly."""
    workdir = tmp_path / "kassa"
    workdir.mkdir()
    env = _env(database_url, localstripe)
    m = _cli(["merchant", "create", "--name", "Live Shop"], database_url, env, workdir)
    assert m["id"].startswith("acct_") and m["secret_key"].startswith("sk_test_"), m
    keys = _cli(["merchant", "keys", "--merchant", m["id"], "--mode", "live"], database_url, env, workdir)
    assert keys["mode"] == "live" and keys["secret_key"].startswith("sk_live_"), keys
    assert keys["publishable_key"].startswith("pk_live_"), keys
    server = _start_production(database_url, env, workdir)
    server.secret_key, server.publishable_key = m["secret_key"], m["publishable_key"]
    try:
        yield LiveKassa(server, m["id"], keys["secret_key"], keys["publishable_key"])
    finally:
        code = _stop_kassa(server)
        print(server.logs())  # shown by pytest only when the test failed
    assert code == 0, f"kassa did not shut down cleanly on SIGTERM (exit {code})\n{server.logs()}"


def _card(number: str = LIVE_CARD) -> dict:
    return {"payment_method_data": {"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}


# ---------------------------------------------------------------------------------------------
# Native: live webhooks verified by standardwebhooks
# ---------------------------------------------------------------------------------------------


def _endpoint(lk: LiveKassa, key: str, url: str) -> tuple:
    status, ep = lk.kassa.request("POST", "/v1/webhook_endpoints", {"url": url, "enabled_events": ["*"]}, key=key)
    assert status in (200, 201), f"creating an endpoint: HTTP {status}: {ep}"
    assert ep["secret"].startswith("whsec_"), ep
    return ep, Webhook(ep["secret"])


def test_native_live_payment_and_refund_webhooks_verify_with_livemode_true(live_kassa, receiver, localstripe):
    lk = live_kassa
    account = lk.add_stripe_account()
    live_ep, live_hook = _endpoint(lk, lk.live_key, receiver.url("/live"))
    test_ep, test_hook = _endpoint(lk, lk.test_key, receiver.url("/test"))
    assert (live_ep["livemode"], test_ep["livemode"]) == (True, False), (live_ep, test_ep)

    amount = next(_amounts)
    status, pi = lk.live("POST", "/v1/payment_intents", {"amount": amount, "currency": "usd"})
    assert status == 200 and pi["livemode"] is True, (status, pi)
    # The sandbox's published test card is declined in live mode before Stripe is asked.
    status, err = lk.live("POST", f"/v1/payment_intents/{pi['id']}/confirm", _card("4242424242424242"))
    assert status == 402 and err["error"]["decline_code"] == "test_mode_live_card", (status, err)
    # The unpublished card goes through the merchant's Stripe account.
    status, paid = lk.live("POST", f"/v1/payment_intents/{pi['id']}/confirm", _card())
    assert status == 200, (status, paid)
    assert (paid["status"], paid["livemode"], paid["amount_received"]) == ("succeeded", True, amount), paid
    assert paid["payment_method"]["last4"] == "8327", paid
    # A partial refund, at Stripe too.
    status, refund = lk.live("POST", "/v1/refunds", {"payment_intent": pi["id"], "amount": 700})
    assert status == 200 and refund["status"] == "succeeded", (status, refund)
    (at_stripe,) = localstripe.intents_of(amount)
    assert at_stripe["status"] == "succeeded", at_stripe
    assert localstripe.charge_of(at_stripe)["amount_refunded"] == 700, at_stripe

    # The test mode on the same server: its own payment, to its own endpoint only.
    status, test_pi = lk.test("POST", "/v1/payment_intents", {"amount": 1234, "currency": "usd"})
    assert status == 200 and test_pi["livemode"] is False, (status, test_pi)
    assert test_pi["checkout_url"].startswith(LIVE_BASE + "/checkout/cs_"), test_pi
    status, body = lk.kassa.confirm(test_pi["id"], "pm_card_visa")
    assert status == 200 and body["status"] == "succeeded" and body["livemode"] is False, (status, body)
    # Across modes every object is "not found".
    assert lk.test("GET", f"/v1/payment_intents/{pi['id']}")[0] == 404
    assert lk.live("GET", f"/v1/payment_intents/{test_pi['id']}")[0] == 404
    assert lk.test("GET", f"/v1/processor_accounts/{account['id']}")[0] == 404

    wanted = {
        "payment_intent.created",
        "payment_intent.payment_failed",  # the test card
        "payment_intent.succeeded",
        "refund.created",
        "refund.succeeded",
    }

    def types(deliveries, path):
        return {json.loads(d.body)["type"] for d in deliveries if d.path == path}

    receiver.wait_for(
        lambda got: wanted <= types(got, "/live") and "payment_intent.succeeded" in types(got, "/test"),
        WAIT_S,
        f"{sorted(wanted)} at /live and payment_intent.succeeded at /test",
    )
    got = receiver.snapshot()
    live = [d for d in got if d.path == "/live"]
    test = [d for d in got if d.path == "/test"]
    assert len(live) + len(test) == len(got), [d.path for d in got]

    by_type: dict = {}
    for d in live:
        payload = live_hook.verify(d.body, d.headers)
        assert payload == json.loads(d.body) and payload["id"] == d.header("webhook-id"), payload
        assert payload["livemode"] is True, payload
        assert payload["data"]["object"].get("livemode", True) is True, payload
        by_type.setdefault(payload["type"], []).append(payload["data"]["object"])
        # Signed with the live endpoint's secret only.
        with pytest.raises(WebhookVerificationError):
            test_hook.verify(d.body, d.headers)
    assert set(by_type) == wanted, sorted(by_type)
    assert [o["id"] for o in by_type["payment_intent.succeeded"]] == [pi["id"]]
    assert by_type["payment_intent.succeeded"][0]["amount_received"] == amount
    (failed,) = by_type["payment_intent.payment_failed"]
    assert failed["id"] == pi["id"], failed
    assert failed["last_payment_error"]["decline_code"] == "test_mode_live_card", failed
    for kind in ("refund.created", "refund.succeeded"):
        (r,) = by_type[kind]
        assert (r["id"], r["amount"], r["payment_intent"]) == (refund["id"], 700, pi["id"]), r
    assert by_type["refund.succeeded"][0]["status"] == "succeeded"

    # The test endpoint got the test payment's events, nothing of the live ones.
    live_ids = {pi["id"], refund["id"]}
    for d in test:
        payload = test_hook.verify(d.body, d.headers)
        assert payload["livemode"] is False, payload
        assert payload["data"]["object"]["id"] not in live_ids, payload
        with pytest.raises(WebhookVerificationError):
            live_hook.verify(d.body, d.headers)

    # A tampered live delivery fails the library.
    sample = next(d for d in live if json.loads(d.body)["type"] == "refund.succeeded")
    tampered = sample.body.replace(b'"livemode":true', b'"livemode":false')
    assert tampered != sample.body
    with pytest.raises(WebhookVerificationError):
        live_hook.verify(tampered, sample.headers)

    # Each mode's event list is its own.
    status, events = lk.test("GET", "/v1/events?limit=100")
    assert status == 200 and all(e["livemode"] is False for e in events["data"]), events
    assert not any(e["data"]["object"]["id"] in live_ids for e in events["data"]), events


# ---------------------------------------------------------------------------------------------
# Paymob: a live profile's callbacks checked by both PyPI clients
# ---------------------------------------------------------------------------------------------

def _live_paymob_profile(lk: LiveKassa, receiver) -> PmProfile:
    body = {
        "name": "Cairo Books",
        "country": "egy",
        "live": True,
        "integrations": [
            {
                "kind": kind,
                "processed_callback_url": receiver.url(CALLBACK_PATH),
                "response_callback_url": receiver.url(RETURN_PATH),
            }
            for kind in ("card", "moto")
        ],
    }
    status, p = lk.live("POST", "/v1/paymob/profiles", body)
    assert status == 200, f"creating a live Paymob profile: HTTP {status}: {p}"
    assert p["secret_key"].startswith("egy_sk_live_") and p["public_key"].startswith("egy_pk_live_"), p
    assert p.get("live") is True, p
    by_name = {i["name"]: i for i in p["integrations"]}
    assert set(by_name) == {"card", "moto"}, p["integrations"]
    return PmProfile(
        p["id"], p["public_key"], p["secret_key"], p["hmac_secret"], p["api_key"], p["iframe_id"], by_name, p
    )


def _assert_live_callback(profile: PmProfile, cb) -> None:
    """Both PyPI validators accept it; it says live; and it fails both under another secret."""
    assert_callback_valid(profile, cb)
    assert cb.obj["is_live"] is True, cb.obj
    assert not paymobz_valid("0" * 32, cb.body, cb.hmac)
    assert not solutions_valid("0" * 32, cb.body, cb.hmac)


def _paymob_client(lk: LiveKassa, profile: PmProfile) -> PaymobClient:
    return PaymobClient(
        PaymobConfig(
            base_url=lk.base,
            secret_key=profile.secret_key,
            public_key=profile.public_key,
            hmac_key=profile.hmac_secret,
            api_key=profile.api_key,
        )
    )


def _paymob_intention(client: PaymobClient, integration: int, amount: int) -> str:
    """A live intention through paymobz (`egy_sk_live_` secret key); its payment key."""
    it = client.intention.create({
        "amount": amount,
        "currency": "EGP",
        "payment_methods": [integration],
        "billing_data": BILLING,
        "items": [{"name": "Book", "amount": amount, "quantity": 1}],
    })
    assert it["client_secret"].startswith("egy_csk_live_"), it
    assert it["id"].startswith("pi_live_") and it["status"] == "intended", it
    (key,) = [k["key"] for k in it["payment_keys"] if k["integration"] == integration]
    return key


def test_paymob_published_mastercard_test_cards_are_declined_in_live_mode(live_kassa, receiver, localstripe):
    lk = live_kassa
    lk.add_stripe_account()
    profile = _live_paymob_profile(lk, receiver)
    client = _paymob_client(lk, profile)
    try:
        for number in (TEST_CARD, "5123450000000008"):
            amount = next(_amounts)
            txn = pay(lk.kassa, _paymob_intention(client, profile.integration_id("moto"), amount), card_source(number))
            cb = wait_transaction_callback(receiver, txn["id"])
            _assert_live_callback(profile, cb)
            assert localstripe.intents_of(amount) == [], f"the published test card {number} reached Stripe"
            assert (txn["success"], cb.obj["success"]) == ("false", False), (number, cb.obj)
    finally:
        client.close()


def test_paymob_live_payment_and_refund_callbacks_pass_both_validators(live_kassa, receiver, localstripe):
    lk = live_kassa
    lk.add_stripe_account()
    profile = _live_paymob_profile(lk, receiver)
    client = _paymob_client(lk, profile)
    try:
        card = profile.integration_id("card")

        def intention(amount: int) -> str:
            return _paymob_intention(client, card, amount)

        # A published test card (one of Paymob's) is declined in live mode before Stripe is
        # asked, with a signed, live callback.
        amount = next(_amounts)
        declined = pay(lk.kassa, intention(amount), card_source(PAYMOB_VISA_TEST_CARD))
        assert (declined["success"], declined["pending"]) == ("false", "false"), declined
        cb = wait_transaction_callback(receiver, declined["id"])
        _assert_live_callback(profile, cb)
        assert cb.obj["success"] is False and cb.obj["data"]["txn_response_code"] != "APPROVED", cb.obj
        assert localstripe.intents_of(amount) == [], "a test card reached Stripe"

        # The unpublished card: paid through the merchant's Stripe account (no 3-D Secure step
        # at localstripe for this card).
        amount = next(_amounts)
        txn = pay(lk.kassa, intention(amount), card_source(LIVE_CARD))
        assert (txn["success"], txn["pending"]) == ("true", "false"), txn
        assert txn["source_data"]["pan"] == "8327", txn["source_data"]
        assert path_of(txn["redirect_url"]) == receiver.url(RETURN_PATH), txn["redirect_url"]
        q = assert_redirect_valid(profile, txn["redirect_url"])
        assert (q["id"], q["success"], q["amount_cents"]) == (str(txn["id"]), "true", str(amount)), q
        paid = wait_transaction_callback(receiver, txn["id"], success=True)
        _assert_live_callback(profile, paid)
        assert (paid.obj["amount_cents"], paid.obj["currency"], paid.obj["pending"]) == (amount, "EGP", False)
        assert paid.obj["data"]["txn_response_code"] == "APPROVED", paid.obj["data"]
        (at_stripe,) = localstripe.intents_of(amount)
        assert (at_stripe["status"], at_stripe["currency"].lower()) == ("succeeded", "egp"), at_stripe

        # Every Paymob payment is a native intent: live, seen by the live key only.
        status, intents = lk.live("GET", "/v1/payment_intents?limit=100")
        assert status == 200, intents
        mine = [p for p in intents["data"] if p["metadata"].get("paymob_transaction") == str(txn["id"])]
        assert len(mine) == 1 and mine[0]["livemode"] is True and mine[0]["status"] == "succeeded", mine
        assert lk.test("GET", f"/v1/payment_intents/{mine[0]['id']}")[0] == 404

        # A partial refund through paymobz (legacy auth token from the live profile's API key).
        res = client.refunds.create(TransactionActionRequest(transaction_id=txn["id"], amount_cents=2500))
        assert res.id and res.id != txn["id"] and res.success, res
        assert res.raw.get("parent_transaction") == txn["id"] and res.raw.get("is_refund") in (True, "true"), res.raw
        refunded = wait_transaction_callback(receiver, res.id)
        _assert_live_callback(profile, refunded)
        assert (refunded.obj["is_refund"], refunded.obj["parent_transaction"]) == (True, txn["id"]), refunded.obj
        assert (refunded.obj["success"], refunded.obj["amount_cents"]) == (True, 2500), refunded.obj
        t = client.transactions.retrieve(txn["id"])
        assert (t.success, t.refunded_amount_cents) == (True, 2500), t.raw
        with pytest.raises(ValidationError):
            client.refunds.create(TransactionActionRequest(transaction_id=txn["id"], amount_cents=amount))
        (at_stripe,) = localstripe.intents_of(amount)
        assert localstripe.charge_of(at_stripe)["amount_refunded"] == 2500, at_stripe

        # Nothing else: the declined payment, the sale and its refund.
        for c in assert_quiet(receiver, 3):
            _assert_live_callback(profile, c)
        assert {c.obj["id"] for c in callbacks(receiver)} == {declined["id"], txn["id"], res.id}
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# Paymentwall: a link signed with the live key, pingbacks validated with the live secret
# ---------------------------------------------------------------------------------------------

# The SDK keeps its keys in class attributes: one configuration at a time, between the test
# thread building links and the pingback server's thread validating.
_sdk_lock = threading.RLock()


@contextmanager
def _configured(key: str, secret: str):
    with _sdk_lock:
        Paymentwall.set_api_type(Paymentwall.API_GOODS)
        Paymentwall.set_app_key(key)
        Paymentwall.set_secret_key(secret)
        yield


def _sdk_valid(key: str, secret: str, params: dict, client_ip: str) -> tuple:
    with _configured(key, secret):
        errors = Paymentwall.get_errors()
        before = len(errors)
        valid = Pingback(dict(params), client_ip).validate(True)
        return valid, "; ".join(errors[before:])


def _follow(lk: LiveKassa, r: pw.Response, at: str) -> str:
    """The absolute, reachable URL of a 303's Location."""
    assert r.status == 303, f"{at}: HTTP {r.status}\n{r.text[:2000]}"
    return lk.local(urllib.parse.urljoin(at, r.header("Location") or ""))


def _pw_submit(lk: LiveKassa, order: str, fields: dict) -> pw.Page:
    """Submits the order page's #pay-form with `fields`; the page it leads to (after the 303),
    or the form shown again (a decline answers 200 with the form and the reason)."""
    form = pw.page(order)
    assert form.status == 200 and form.parsed.form_action, form.text[:3000]
    action = urllib.parse.urljoin(order, form.parsed.form_action)
    r = pw.http("POST", action, {**form.parsed.hidden, **fields})
    if r.status == 303:
        return pw.page(_follow(lk, r, action))
    parsed = pw._PageParser()
    parsed.feed(r.text)
    return pw.Page(action, r.status, r.text, parsed)


def test_paymentwall_live_link_and_pingbacks_validate_with_the_live_secret(
    live_kassa, pingbacks, localstripe, monkeypatch
):
    lk = live_kassa
    lk.add_stripe_account()
    # The merchant sets the project up with its live key (a project carries both key pairs).
    status, p = lk.live(
        "POST",
        "/v1/paymentwall/projects",
        {"name": "Game shop", "api_type": "digital_goods", "pingback_url": pingbacks.url("live"),
         "settings": {"risk_review_delay_seconds": 0}},
    )
    assert status == 200, f"creating a Paymentwall project: HTTP {status}: {p}"
    if not p.get("live_project_key") or not p.get("live_secret_key"):
        pytest.skip("paymentwall live keys not present")
    status, shown = lk.live("GET", f"/v1/paymentwall/projects/{p['id']}")
    assert status == 200 and shown["live_project_key"] == p["live_project_key"], shown
    assert "live_secret_key" not in shown and "secret_key" not in shown, shown
    key, secret = p["live_project_key"], p["live_secret_key"]
    assert (key, secret) != (p["project_key"], p["secret_key"]), p
    for v in (key, secret):
        assert len(v) == 32 and all(c in "0123456789abcdef" for c in v), p
    pingbacks.check_with("live", lambda query, params, ip: _sdk_valid(key, secret, params, ip))

    # The SDK builds the link with the live key; only its base URL points at Kassa.
    monkeypatch.setattr(Widget, "BASE_URL", lk.url("/api"))
    monkeypatch.setattr(Paymentwall, "errors", [])
    with _configured(key, secret):
        url = Widget(
            "user-live-1",
            "p1_1",
            [Product("product301", 9.99, "USD", "Gold Membership")],
            {"ps": "cc", "email": "user@hostname.com"},
        ).get_url()
        assert not Paymentwall.get_errors(), Paymentwall.get_error_summary()
    assert url.startswith(lk.url("/api/subscription?")) and f"key={key}" in url, url
    order = _follow(lk, pw.http("GET", url), url)
    assert "/pw/orders/" in order, order
    # The same link signed with the TEST secret is another signature: refused for the live key.
    with _configured(key, p["secret_key"]):
        forged = Widget("user-live-1", "p1_1", [Product("product301", 9.99, "USD", "Gold Membership")],
                        {"ps": "cc", "email": "user@hostname.com"}).get_url()
    assert pw.http("GET", forged).status == 403

    # The published test card is declined in live mode (the form comes back with the reason);
    # the unpublished one pays, through Stripe.
    at_stripe_before = len(localstripe.intents_of(999))
    declined = _pw_submit(lk, order, pw.card_fields("4242 4242 4242 4242"))
    assert declined.state == "form" and "known test card" in declined.text, declined.text[:3000]
    assert len(localstripe.intents_of(999)) == at_stripe_before, "a test card reached Stripe"
    result = _pw_submit(lk, order, pw.card_fields("4485 2757 4230 8327"))
    payment = pw.assert_paid(result)
    ref = payment["id"]
    assert (payment["amount"], payment["currency"], payment["uid"]) == ("9.99", "USD", "user-live-1"), payment
    assert not ref.startswith("t"), payment  # test payments' refs are t<unix time>

    (pb,) = pingbacks.wait_for_type(pw.PAYMENT, "live")
    assert pb.valid, pb
    assert pb.get("ref") == ref and pb.get("uid") == "user-live-1" and pb.get("goodsid") == "product301", pb
    assert pb.get("is_test", "0") == "0", pb.query  # Kassa leaves it out; Paymentwall sends 0 or none
    # Signed with the live secret: the test secret does not validate it.
    assert _sdk_valid(p["project_key"], p["secret_key"], pb.params, pb.client_ip)[0] is False
    # A live native payment: the live key sees it, the test key does not.
    status, intents = lk.live("GET", "/v1/payment_intents?limit=100")
    assert status == 200, intents
    live_paid = [i for i in intents["data"] if i["status"] == "succeeded" and i["amount"] == 999]
    assert len(live_paid) == 1 and live_paid[0]["livemode"] is True, intents["data"]
    assert lk.test("GET", f"/v1/payment_intents/{live_paid[0]['id']}")[0] == 404
    assert len(localstripe.intents_of(999)) == at_stripe_before + 1, "not paid at Stripe"

    # Refund through the Cancellation API, signed with the live pair by the SDK's signature.
    params = {"key": key, "ref": ref, "uid": "user-live-1", "type": "1", "message": "refund", "sign_version": "3"}
    pw.ticket_ok(pw.ticket(lk.kassa, params, lambda q: Widget.calculate_signature(q, secret, 3)))
    (refund,) = pingbacks.wait_for_type(pw.NEGATIVE, "live")
    assert refund.valid and refund.get("ref") == ref and refund.get("reason") == "9", refund
    assert refund.get("is_test", "0") == "0", refund.query

    got = pingbacks.assert_all_valid()
    assert [x.type for x in got] == [pw.PAYMENT, pw.NEGATIVE], [x.query for x in got]


# ---------------------------------------------------------------------------------------------
# What a live payer is shown
# ---------------------------------------------------------------------------------------------


def _says_sandbox(text: str) -> list:
    """The lines of a page that tell the payer it is a test or sandbox payment."""
    return [
        line.strip() for line in text.splitlines()
        if re.search(r"sandbox|test mode|test cards|badge-test|4242 4242", line, re.IGNORECASE)
    ]


def test_live_payer_pages_do_not_say_sandbox(live_kassa, monkeypatch):
    lk = live_kassa
    status, pi = lk.live("POST", "/v1/payment_intents",
                         {"amount": 1500, "currency": "usd", "return_url": "https://shop.example/done"})
    assert status == 200 and pi["livemode"] is True, (status, pi)
    checkout = pw.http("GET", lk.local(pi["checkout_url"]))
    assert checkout.status == 200, checkout.text[:2000]

    status, p = lk.live("POST", "/v1/paymentwall/projects", {"name": "Game shop", "api_type": "digital_goods"})
    assert status == 200, p
    if not p.get("live_project_key"):
        pytest.skip("paymentwall live keys not present")
    monkeypatch.setattr(Widget, "BASE_URL", lk.url("/api"))
    monkeypatch.setattr(Paymentwall, "errors", [])
    with _configured(p["live_project_key"], p["live_secret_key"]):
        url = Widget("user-live-2", "p1_1", [Product("product301", 9.99, "USD", "Gold")], {"ps": "cc"}).get_url()
    order = pw.page(_follow(lk, pw.http("GET", url), url))
    assert order.status == 200 and order.state == "form", order.text[:2000]

    assert (_says_sandbox(checkout.text), _says_sandbox(order.text)) == ([], [])
