"""Two PyPI Paymob clients, unmodified, against a real Kassa: `paymobz` 0.16 and
`paymob-solutions` 1.0.0 (imported as `paymob`).

The only change a merchant makes to move from Paymob to Kassa is the base URL: paymobz takes it
in `PaymobConfig(base_url=…)`; paymob-solutions builds its endpoint URLs at import from
`PAYMOB_ACCEPT_BASE_URL`, so the tests swap the base in those class attributes
(`paymob_support.point_solutions_at`). Intentions, legacy orders and payment keys, refunds, voids
and captures go through the clients; the customer's part (paying, answering the 3-D Secure or
wallet page) is done over HTTP the way Kassa's pages do it. Every processed callback (POST body
plus its `hmac` query parameter) and every signed redirect must pass BOTH clients' HMAC checks
(`paymobz.WebhookResource.verify_mac`, paymob-solutions' `AcceptCallback(...).is_valid`), and a
tampered one must fail both. Subscription callbacks (HMAC in the JSON body), which neither client
can validate, are checked by Paymob's published rule (`paymob_support.subscription_hmac_valid`).
"""

from __future__ import annotations

import secrets
import urllib.parse

import pytest

from paymob_support import (
    BILLING,
    CALLBACK_PATH,
    DAY,
    DECLINED_CARD,
    RENEWALS_DECLINE_CARD,
    RETURN_PATH,
    TEST_CARD,
    WALLET_MPIN,
    WALLET_OTP,
    advance_subscription_clock,
    answer_challenge,
    assert_callback_valid,
    assert_quiet,
    assert_redirect_valid,
    assert_subscription_callback_valid,
    assert_tamper_detected,
    callbacks,
    card_source,
    create_plan,
    create_profile,
    http,
    path_of,
    pay,
    paymobz_valid,
    point_solutions_at,
    query_of,
    redirect_as_callback,
    settle,
    solutions_valid,
    subscription_action,
    subscription_callbacks,
    subscription_transactions,
    transaction_callbacks,
    wait_callbacks,
    wait_subscription_callbacks,
    wait_subscription_started,
    wait_token_callback,
    wait_transaction_callback,
    wallet_source,
)

pytest.importorskip("paymobz")
pytest.importorskip("paymob.accept")
from paymob.accept import AcceptAPIClient, AcceptUtils  # noqa: E402
from paymob.response_codes import SUCCESS  # noqa: E402
from paymobz.client.sync import PaymobClient  # noqa: E402
from paymobz.config import PaymobConfig  # noqa: E402
from paymobz.exceptions import ValidationError  # noqa: E402
from paymobz.models.transaction_action import TransactionActionRequest  # noqa: E402
from paymobz.models.unified_checkout import CheckoutRequest  # noqa: E402


class Merchant:
    """One merchant: a Kassa profile (one integration of each kind, calling back to the
    receiver), a paymobz client and paymob-solutions, both pointed at this Kassa."""

    def __init__(self, kassa, receiver, profile, client):
        self.kassa = kassa
        self.receiver = receiver
        self.profile = profile
        self.client = client

    def integration(self, name: str) -> int:
        return self.profile.integration_id(name)

    def intention(self, methods: list, amount: int = 10000, **extra) -> dict:
        """`POST /v1/intention/` through paymobz's Intention resource (Bearer secret key)."""
        body = {
            "amount": amount,
            "currency": "EGP",
            "payment_methods": methods,
            "billing_data": BILLING,
            "items": [{"name": "Item", "amount": amount, "quantity": 1}],
            **extra,
        }
        it = self.client.intention.create(body)
        assert it["client_secret"].startswith("egy_csk_test_"), it
        assert it["id"].startswith("pi_test_") and it["status"] == "intended", it
        assert len(it["payment_keys"]) == len(methods), it
        return it

    def key(self, intention: dict, integration: str) -> str:
        wanted = self.integration(integration)
        keys = [k["key"] for k in intention["payment_keys"] if k["integration"] == wanted]
        assert len(keys) == 1, intention["payment_keys"]
        return keys[0]

    def element(self, client_secret: str) -> dict:
        """What the hosted checkout and Pixel read (no auth: public key + client secret)."""
        r = http("GET", self.kassa.url(f"/v1/intention/element/{self.profile.public_key}/{client_secret}/"))
        assert r.status == 200, (r.status, r.text[:1000])
        return r.json()

    def solutions(self) -> AcceptAPIClient:
        """paymob-solutions' client: it fetches a legacy auth token on construction and sends it
        as the raw `Authorization` header from then on."""
        client = AcceptAPIClient()
        assert client.connection.auth_token and client.connection.auth_token.startswith("ZXlK"), (
            client.connection.auth_token
        )
        return client


@pytest.fixture
def merchant(kassa, receiver, monkeypatch):
    profile = create_profile(kassa, receiver)
    config = PaymobConfig(
        base_url=kassa.base,
        secret_key=profile.secret_key,
        public_key=profile.public_key,
        hmac_key=profile.hmac_secret,
        api_key=profile.api_key,
    )
    client = PaymobClient(config)
    point_solutions_at(monkeypatch, kassa.base, profile.api_key, profile.hmac_secret)
    try:
        yield Merchant(kassa, receiver, profile, client)
    finally:
        client.close()


def _approved_card_payment(
    m: Merchant, integration: str = "card", amount: int = 10000, number: str = TEST_CARD, **extra
) -> tuple:
    """An intention on `integration` paid with card `number` (the test card by default), 3-D
    Secure approved when asked; returns (transaction as paid, its success callback)."""
    it = m.intention([m.integration(integration)], amount=amount, **extra)
    txn = pay(m.kassa, m.key(it, integration), card_source(number))
    if txn["is_3d_secure"] == "true":
        assert (txn["success"], txn["pending"]) == ("false", "true"), txn
        assert_redirect_valid(m.profile, answer_challenge(m.kassa, txn["redirect_url"]))
    else:
        assert (txn["success"], txn["pending"]) == ("true", "false"), txn
    cb = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, cb)
    return txn, cb


# ---------------------------------------------------------------------------------------------
# Card payments
# ---------------------------------------------------------------------------------------------


def test_unified_checkout_card_with_3d_secure_approved(merchant):
    m = merchant
    special = f"order-{secrets.token_hex(4)}"
    checkout = m.client.unified_checkout.create(
        CheckoutRequest(
            amount=25000,
            currency="EGP",
            payment_methods=[m.integration("card")],
            billing_data=BILLING,
            special_reference=special,
            extras={"cart": "c-17"},
        )
    )
    cs = checkout.client_secret
    assert cs.startswith("egy_csk_test_"), checkout
    # paymobz hard-codes accept.paymob.com in the checkout URL it returns: a merchant on Kassa
    # opens Kassa's own /unifiedcheckout/ with the same public key and client secret.
    assert checkout.intention_url == (
        f"https://accept.paymob.com/unifiedcheckout/?publicKey={m.profile.public_key}&clientSecret={cs}"
    )
    page = http("GET", m.kassa.url(f"/unifiedcheckout/?publicKey={m.profile.public_key}&clientSecret={cs}"))
    assert page.status == 200 and 'id="pm-form"' in page.text, (page.status, page.text[:1000])

    # What the page's script does: read the intention, pay with the card, follow redirect_url.
    element = m.element(cs)
    assert (element["intention_detail"]["amount"], element["intention_detail"]["currency"]) == (25000, "EGP")
    txn = pay(m.kassa, element["payment_keys"]["card"], card_source())
    assert (txn["success"], txn["pending"], txn["is_3d_secure"]) == ("false", "true", "true"), txn
    assert txn["redirect_url"].startswith(m.kassa.url("/api/acceptance/challenge/")), txn
    redirect = answer_challenge(m.kassa, txn["redirect_url"], "approve")

    # The customer lands on the integration's response URL with the signed query.
    assert path_of(redirect) == m.receiver.url(RETURN_PATH), redirect
    q = assert_redirect_valid(m.profile, redirect)
    assert q["id"] == str(txn["id"]) and q["success"] == "true" and q["pending"] == "false", q
    assert q["amount_cents"] == "25000" and q["currency"] == "EGP", q
    assert q["order"] == str(element["order_id"]) and q["merchant_order_id"] == special, q
    assert (q["source_data.type"], q["source_data.pan"], q["source_data.sub_type"]) == ("card", "2346", "MasterCard")
    assert q["txn_response_code"] == "APPROVED" and q["is_3d_secure"] == "true", q

    # The processed callback: one, for the final state only (none while 3-D Secure was pending).
    cb = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, cb)
    obj = cb.obj
    assert (obj["pending"], obj["is_3d_secure"], obj["amount_cents"]) == (False, True, 25000), obj
    assert obj["order"]["id"] == element["order_id"] and obj["order"]["merchant_order_id"] == special, obj
    assert obj["payment_key_claims"]["extra"].get("cart") == "c-17", obj["payment_key_claims"]
    assert obj["payment_key_claims"]["next_payment_intention"].startswith("pi_test_"), obj["payment_key_claims"]
    assert obj["integration_id"] == m.integration("card") and obj["owner"] > 0, obj
    assert_quiet(m.receiver, 1)

    # The merchant double-checks with paymobz (legacy auth token, Bearer).
    t = m.client.transactions.retrieve(txn["id"])
    assert (t.id, t.success, t.pending, t.amount_cents) == (txn["id"], True, False, 25000), t
    # Paymob's HMAC testing endpoint agrees with the callback's signature.
    r = http(
        "GET",
        m.kassa.url(f"/api/acceptance/transactions/{txn['id']}/hmac_calc"),
        headers={"Authorization": f"Bearer {m.client._auth_token}"},
    )
    assert r.status == 200 and r.json()["hmac"] == cb.hmac, (r.status, r.text[:500])


def test_3d_secure_failed_and_declined_cards(merchant):
    m = merchant
    cases = []

    # The customer fails 3-D Secure.
    it = m.intention([m.integration("card")])
    txn = pay(m.kassa, m.key(it, "card"), card_source())
    assert txn["pending"] == "true", txn
    cases.append((txn["id"], answer_challenge(m.kassa, txn["redirect_url"], "fail")))

    # A declined card: refused at once, no 3-D Secure page, straight to the signed redirect.
    it = m.intention([m.integration("card")])
    txn = pay(m.kassa, m.key(it, "card"), card_source(DECLINED_CARD))
    assert (txn["success"], txn["pending"]) == ("false", "false"), txn
    assert path_of(txn["redirect_url"]) == m.receiver.url(RETURN_PATH), txn["redirect_url"]
    cases.append((txn["id"], txn["redirect_url"]))

    # A CVV the issuer declines (111), after 3-D Secure was approved.
    it = m.intention([m.integration("card")])
    txn = pay(m.kassa, m.key(it, "card"), card_source(cvn="111"))
    if txn["pending"] == "true":
        cases.append((txn["id"], answer_challenge(m.kassa, txn["redirect_url"], "approve")))
    else:
        cases.append((txn["id"], txn["redirect_url"]))

    # A MOTO payment declined by CVV 222 (no 3-D Secure at all).
    it = m.intention([m.integration("moto")])
    txn = pay(m.kassa, m.key(it, "moto"), card_source(cvn="222"))
    assert (txn["success"], txn["pending"]) == ("false", "false"), txn
    cases.append((txn["id"], txn["redirect_url"]))

    for txn_id, redirect in cases:
        assert path_of(redirect) == m.receiver.url(RETURN_PATH), redirect
        q = assert_redirect_valid(m.profile, redirect)
        assert q["id"] == str(txn_id) and (q["success"], q["pending"]) == ("false", "false"), q
        cb = wait_transaction_callback(m.receiver, txn_id)
        assert_callback_valid(m.profile, cb)
        assert (cb.obj["success"], cb.obj["pending"]) == (False, False), cb.obj
        assert cb.obj["data"]["txn_response_code"] != "APPROVED", cb.obj["data"]
        t = m.client.transactions.retrieve(txn_id)
        assert (t.success, t.pending) == (False, False), t
    # Exactly one callback per transaction.
    assert_quiet(m.receiver, len(cases))


def test_wallet_paid_with_mpin_and_otp(merchant):
    m = merchant
    # A wrong one-time code: the wallet declines, with a signed redirect and callback.
    it = m.intention([m.integration("wallet")], amount=5000)
    txn = pay(m.kassa, m.key(it, "wallet"), wallet_source())
    redirect = answer_challenge(m.kassa, txn["redirect_url"], "approve", mpin=WALLET_MPIN, otp="000000")
    q = assert_redirect_valid(m.profile, redirect)
    assert (q["id"], q["success"], q["pending"]) == (str(txn["id"]), "false", "false"), q
    declined = wait_transaction_callback(m.receiver, txn["id"], success=False)
    assert_callback_valid(m.profile, declined)

    # The right MPIN and code.
    it = m.intention([m.integration("wallet")], amount=5000)
    txn = pay(m.kassa, m.key(it, "wallet"), wallet_source())
    assert (txn["success"], txn["pending"], txn["is_3d_secure"]) == ("false", "true", "false"), txn
    assert txn["source_data"]["type"] == "wallet", txn["source_data"]
    assert txn["redirect_url"].startswith(m.kassa.url("/api/acceptance/challenge/")), txn
    redirect = answer_challenge(m.kassa, txn["redirect_url"], "approve", mpin=WALLET_MPIN, otp=WALLET_OTP)
    assert path_of(redirect) == m.receiver.url(RETURN_PATH), redirect
    q = assert_redirect_valid(m.profile, redirect)
    assert (q["success"], q["source_data.type"], q["source_data.sub_type"]) == ("true", "wallet", "wallet"), q
    cb = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, cb)
    assert cb.obj["amount_cents"] == 5000 and cb.obj["source_data"]["type"] == "wallet", cb.obj
    assert cb.obj["data"]["klass"] == "WalletPayment", cb.obj["data"]
    assert_quiet(m.receiver, 2)


def test_kiosk_reference_then_paid_and_cash_collected(merchant):
    """Kiosk through paymob-solutions' `proceed_kiosk_payment`: a pending callback with the bill
    reference, then the success callback when the customer pays at the outlet. Cash through
    its `proceed_cash_payment` on a legacy order, collected by the courier."""
    m = merchant
    it = m.intention([m.integration("kiosk")], amount=7500)
    client = m.solutions()
    code, kiosk, feedback = client.proceed_kiosk_payment(m.key(it, "kiosk"))
    assert code == SUCCESS, feedback
    assert (kiosk.success, kiosk.pending) == ("false", "true"), vars(kiosk)
    reference = kiosk.data.bill_reference
    assert str(reference).strip(), vars(kiosk.data)
    pending = wait_transaction_callback(m.receiver, kiosk.id, pending=True)
    assert_callback_valid(m.profile, pending)
    assert pending.obj["success"] is False and pending.obj["data"]["bill_reference"] == reference, pending.obj
    assert pending.obj["source_data"] == {**pending.obj["source_data"], "type": "aggregator", "pan": ""}

    settle(m.kassa, kiosk.id)
    paid = wait_transaction_callback(m.receiver, kiosk.id, success=True)
    assert_callback_valid(m.profile, paid)
    assert (paid.obj["pending"], paid.obj["amount_cents"]) == (False, 7500), paid.obj

    # Cash on delivery, the legacy way: order, payment key, pay.
    merchant_order_id = AcceptUtils.generate_merchant_order_id("shop", 77)
    code, order, feedback = client.create_order(merchant_order_id, 3000, "EGP")
    assert code == SUCCESS, feedback
    code, key, feedback = client.create_payment_key(order.id, 3000, "EGP", BILLING, m.integration("cash"))
    assert code == SUCCESS and key, feedback
    code, cash, feedback = client.proceed_cash_payment(key)
    assert code == SUCCESS and (cash.success, cash.pending) == ("false", "true"), feedback
    settle(m.kassa, cash.id)
    collected = wait_transaction_callback(m.receiver, cash.id, success=True)
    assert_callback_valid(m.profile, collected)
    assert collected.obj["order"]["merchant_order_id"] == merchant_order_id, collected.obj["order"]
    for cb in transaction_callbacks(m.receiver, cash.id):
        assert_callback_valid(m.profile, cb)


# ---------------------------------------------------------------------------------------------
# Refund, void, capture
# ---------------------------------------------------------------------------------------------


def _child(m: Merchant, raw: dict, parent: int, flag: str) -> dict:
    """A refund/void/capture answer: a new child transaction, with its own signed callback."""
    assert raw["id"] != parent and raw.get("parent_transaction") == parent, raw
    assert raw.get(flag) in (True, "true"), (flag, raw)
    assert raw.get("success") in (True, "true"), raw
    cb = wait_transaction_callback(m.receiver, raw["id"])
    assert_callback_valid(m.profile, cb)
    assert cb.obj[flag] is True and cb.obj["has_parent_transaction"] is True, cb.obj
    assert cb.obj["parent_transaction"] == parent, cb.obj
    return cb.obj


def test_partial_refunds_and_a_same_day_void(merchant):
    m = merchant
    txn, _ = _approved_card_payment(m, amount=10000)

    # paymobz: refunds.create with its TransactionActionRequest (legacy auth token, Bearer).
    res = m.client.refunds.create(TransactionActionRequest(transaction_id=txn["id"], amount_cents=2500))
    assert res.id and res.success, res
    child = _child(m, res.raw, txn["id"], "is_refund")
    assert child["amount_cents"] == 2500, child

    # paymob-solutions: get the transaction, then Transaction.refund (raw Authorization token).
    client = m.solutions()
    code, parent, feedback = client.get_transaction(txn["id"])
    assert code == SUCCESS and parent.id == txn["id"], feedback
    code, second, feedback = parent.refund(3000)
    assert code == SUCCESS, feedback
    _child(m, feedback.data, txn["id"], "is_refund")

    t = m.client.transactions.retrieve(txn["id"])
    assert t.refunded_amount_cents == 5500 and t.success is True, t.raw
    # More than what is left is refused.
    with pytest.raises(ValidationError):
        m.client.refunds.create(TransactionActionRequest(transaction_id=txn["id"], amount_cents=4501))

    # paymobz: voids.create on another sale, the same day: the whole amount comes back.
    other, _ = _approved_card_payment(m, integration="moto", amount=4000)
    res = m.client.voids.create(TransactionActionRequest(transaction_id=other["id"]))
    assert res.id and res.success, res
    _child(m, res.raw, other["id"], "is_void")
    t = m.client.transactions.retrieve(other["id"])
    assert t.is_voided is True, t.raw

    for cb in callbacks(m.receiver):
        assert_callback_valid(m.profile, cb)
    # Two sales, two refunds, one void: five callbacks, no more.
    assert_quiet(m.receiver, 5)


def test_capture_and_void_of_card_auth_authorisations(merchant):
    m = merchant
    auth, cb = _approved_card_payment(m, integration="card-auth", amount=8000)
    assert cb.obj["is_auth"] is True and cb.obj["is_capture"] is False, cb.obj

    # paymobz: captures.create, part of the authorised amount.
    res = m.client.captures.create(TransactionActionRequest(transaction_id=auth["id"], amount_cents=6000))
    assert res.id and res.success, res
    child = _child(m, res.raw, auth["id"], "is_capture")
    assert child["amount_cents"] == 6000, child
    t = m.client.transactions.retrieve(auth["id"])
    assert t.is_captured is True, t.raw

    # paymob-solutions: void another authorisation, which releases it.
    other, _ = _approved_card_payment(m, integration="card-auth", amount=3000)
    client = m.solutions()
    code, parent, feedback = client.get_transaction(other["id"])
    assert code == SUCCESS, feedback
    code, voided, feedback = parent.void()
    assert code == SUCCESS, feedback
    _child(m, feedback.data, other["id"], "is_void")
    t = m.client.transactions.retrieve(other["id"])
    assert t.is_voided is True, t.raw
    # A released authorisation cannot be captured any more.
    with pytest.raises(ValidationError):
        m.client.captures.create(TransactionActionRequest(transaction_id=other["id"], amount_cents=3000))

    for cb in callbacks(m.receiver):
        assert_callback_valid(m.profile, cb)


# ---------------------------------------------------------------------------------------------
# Saved cards
# ---------------------------------------------------------------------------------------------


def test_saved_card_token_callback_then_merchant_initiated_payment(merchant):
    m = merchant
    it = m.intention([m.integration("card")], amount=12000)
    txn = pay(m.kassa, m.key(it, "card"), card_source(save_card=True))
    answer_challenge(m.kassa, txn["redirect_url"], "approve")
    paid = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, paid)

    # The token arrives as a second POST to the same URL (its order: the next test).
    token_cb = wait_token_callback(m.receiver)
    assert sorted(c.type for c in callbacks(m.receiver)) == ["TOKEN", "TRANSACTION"]
    assert urllib.parse.urlsplit(token_cb.path).path == CALLBACK_PATH
    token = token_cb.obj
    assert token["masked_pan"].endswith("2346") and token["card_subtype"] == "MasterCard", token
    assert token["order_id"] == str(it["intention_order_id"]), token  # a string, as Paymob sends it
    assert token["email"] == BILLING["email"] and token["token"], token
    # paymob-solutions has the TOKEN field list; paymobz only knows transaction callbacks.
    assert solutions_valid(m.profile.hmac_secret, token_cb.body, token_cb.hmac), token_cb.body
    tampered = {**token_cb.body, "obj": {**token, "masked_pan": "xxxx-xxxx-xxxx-0000"}}
    assert not solutions_valid(m.profile.hmac_secret, tampered, token_cb.hmac)

    # A merchant-initiated payment with the saved token on the MOTO integration, through
    # paymob-solutions' proceed_card_token_payment.
    mit = m.intention([m.integration("moto")], amount=4500)
    client = m.solutions()
    code, charged, feedback = client.proceed_card_token_payment(m.key(mit, "moto"), token["token"])
    assert code == SUCCESS, feedback
    assert (charged.success, charged.pending) == ("true", "false"), feedback.data
    cb = wait_transaction_callback(m.receiver, charged.id, success=True)
    assert_callback_valid(m.profile, cb)
    assert cb.obj["amount_cents"] == 4500 and cb.obj["source_data"]["pan"] == "2346", cb.obj


def test_token_callback_comes_after_the_transaction_callback(merchant):
    """Reference §4.4/§8.9: the TOKEN callback is a second POST, sent after the TRANSACTION
    callback of the payment that saved the card (merchants file the token under the order the
    transaction callback told them about). Three saved-card payments, so that callbacks sent
    concurrently, in either order, are caught every time rather than now and then."""
    m = merchant
    for n in range(3):
        it = m.intention([m.integration("moto")], amount=1000 + n)
        txn = pay(m.kassa, m.key(it, "moto"), card_source(save_card=True))
        assert txn["success"] == "true", txn
        wait_callbacks(
            m.receiver,
            lambda got: sum(1 for c in got if c.type == "TOKEN") > n
            and any(c.type == "TRANSACTION" and c.obj.get("id") == txn["id"] for c in got),
            f"the callbacks of saved-card payment {n + 1}",
        )
    got = callbacks(m.receiver)
    order = [(c.type, c.obj.get("id") if c.type == "TRANSACTION" else c.obj.get("order_id")) for c in got]
    assert [t for t, _ in order] == ["TRANSACTION", "TOKEN"] * 3, f"callbacks in arrival order: {order}"


# ---------------------------------------------------------------------------------------------
# Subscriptions on the test clock
# ---------------------------------------------------------------------------------------------


def _subscribe(m: Merchant, plan: dict, number: str) -> tuple:
    """An intention naming `plan` on the 3-D Secure card integration, its first payment made
    with card `number`: that payment's TRANSACTION callback (both validators), the TOKEN
    callback of the card it saved (paymob-solutions: paymobz has no TOKEN field list) and the
    subscription's `created` callback; returns (first transaction's id, the subscription as
    created)."""
    txn, paid = _approved_card_payment(m, amount=plan["amount_cents"], number=number, subscription_plan_id=plan["id"])
    assert txn["is_3d_secure"] == "true", txn
    order_id = str(paid.obj["order"]["id"])  # a TOKEN callback's order_id is a string
    got = wait_callbacks(
        m.receiver,
        lambda g: any(c.type == "TOKEN" and c.obj.get("order_id") == order_id for c in g),
        f"the TOKEN callback of order {order_id}",
    )
    token = next(c for c in got if c.type == "TOKEN" and c.obj.get("order_id") == order_id)
    assert solutions_valid(m.profile.hmac_secret, token.body, token.hmac), token.body
    assert token.obj["masked_pan"].endswith(number[-4:]), token.obj
    created = wait_subscription_started(m.receiver, txn["id"])
    assert_subscription_callback_valid(m.profile, created)
    sub = created.data
    assert (sub["state"], sub["plan_id"], sub["frequency"]) == ("active", plan["id"], plan["frequency"]), sub
    assert (sub["amount_cents"], sub["integration"]) == (plan["amount_cents"], m.integration("moto")), sub
    return txn["id"], sub


def _renewals(m: Merchant, sub_id: int, first_txn: int, count: int, success: bool) -> list:
    """The subscription's transactions are its first payment and `count` renewal attempts;
    each renewal's TRANSACTION callback (on the plan's MOTO integration, `api_source`
    SUBSCRIPTION, `success` as given) passes BOTH clients' validators. Returns the callbacks,
    oldest first."""
    txns = subscription_transactions(m.kassa, m.profile, sub_id)
    ids = [t["id"] for t in reversed(txns)]  # the list is newest first
    assert len(ids) == count + 1 and ids[0] == first_txn, txns
    out = []
    for txn_id in ids[1:]:
        cb = wait_transaction_callback(m.receiver, txn_id, api_source="SUBSCRIPTION", success=success)
        assert_callback_valid(m.profile, cb)
        assert (cb.obj["pending"], cb.obj["integration_id"]) == (False, m.integration("moto")), cb.obj
        assert cb.obj["amount_cents"] == txns[0]["amount_cents"], cb.obj
        out.append(cb)
    return out


def _triggers(m: Merchant, sub_id: int, count: int) -> list:
    """Waits for `count` callbacks of the subscription, checks every one's body HMAC; returns
    their triggers in arrival order."""
    got = wait_subscription_callbacks(m.receiver, sub_id, count)
    for cb in got:
        assert_subscription_callback_valid(m.profile, cb)
    return [cb.trigger for cb in got]


def test_subscription_renewals_declines_and_end_on_the_test_clock(merchant):
    """A Paymob subscription driven through Kassa's test clock (`advance_clock`, native key),
    with every callback checked: each renewal is a TRANSACTION callback (`api_source`
    SUBSCRIPTION) that passes BOTH clients' validators, each subscription callback's body HMAC
    is right (`subscription_hmac_valid`; no client ships a validator for it).

    A weekly plan of three deductions, on the test card: two successful renewals, then the end
    at `ends_at` by itself (`canceled`). A weekly plan with two retrial days, on a card whose
    renewals decline: the renewal and its two daily retries fail, the third failure suspends
    the subscription, a resume retries at once (declined: suspended again), a cancel ends it."""
    m = merchant

    # Three payments in all: the first and two renewals, a week apart; then it ends.
    plan = create_plan(
        m.kassa, m.profile, m.receiver,
        frequency=7, name="Weekly", retrial_days=2, amount_cents=900, number_of_deductions=3,
    )
    first, created = _subscribe(m, plan, TEST_CARD)
    sub_id = created["id"]
    assert created["ends_at"] and created["next_billing"] < created["ends_at"], created

    sub = advance_subscription_clock(m.kassa, sub_id, 7 * DAY + 60)
    assert sub["state"] == "active" and sub["next_billing"] > created["next_billing"], sub
    _renewals(m, sub_id, first, 1, success=True)
    assert _triggers(m, sub_id, 2) == ["created", "successful_transaction"]

    before = sub
    sub = advance_subscription_clock(m.kassa, sub_id, 7 * DAY)
    assert sub["state"] == "active" and sub["next_billing"] > before["next_billing"], sub
    _renewals(m, sub_id, first, 2, success=True)
    assert _triggers(m, sub_id, 3) == ["created", "successful_transaction", "successful_transaction"]

    sub = advance_subscription_clock(m.kassa, sub_id, 7 * DAY)
    assert (sub["state"], sub["ends_at"]) == ("canceled", created["ends_at"]), sub
    _renewals(m, sub_id, first, 2, success=True)  # no third renewal
    assert _triggers(m, sub_id, 4) == ["created", "successful_transaction", "successful_transaction", "canceled"]
    # Once ended, another week brings no renewal (the callback counts are checked at the end).
    assert advance_subscription_clock(m.kassa, sub_id, 7 * DAY)["state"] == "canceled"
    _renewals(m, sub_id, first, 2, success=True)

    # Renewals that decline: retried once a day for the plan's two retrial days, then suspended.
    plan = create_plan(m.kassa, m.profile, m.receiver, frequency=7, name="Weekly", retrial_days=2, amount_cents=900)
    first, created = _subscribe(m, plan, RENEWALS_DECLINE_CARD)
    sub_id = created["id"]
    assert created["ends_at"] is None, created

    sub = advance_subscription_clock(m.kassa, sub_id, 7 * DAY + 60)
    assert sub["state"] == "active", sub  # past due: Paymob shows it active while retrying
    _renewals(m, sub_id, first, 1, success=False)
    assert _triggers(m, sub_id, 2) == ["created", "failed_transaction"]

    sub = advance_subscription_clock(m.kassa, sub_id, DAY)
    assert sub["state"] == "active", sub
    _renewals(m, sub_id, first, 2, success=False)
    assert _triggers(m, sub_id, 3) == ["created", "failed_transaction", "failed_transaction"]

    sub = advance_subscription_clock(m.kassa, sub_id, DAY)
    assert sub["state"] == "suspended" and sub["suspended_at"], sub
    _renewals(m, sub_id, first, 3, success=False)
    suspended = ["created", "failed_transaction", "failed_transaction", "suspended"]
    assert _triggers(m, sub_id, 4) == suspended

    # A resume retries at once; the card declines again, so it is suspended again.
    sub = subscription_action(m.kassa, m.profile, sub_id, "resume")
    assert sub["state"] == "suspended", sub
    _renewals(m, sub_id, first, 4, success=False)
    assert _triggers(m, sub_id, 6) == [*suspended, "resumed", "suspended"]

    sub = subscription_action(m.kassa, m.profile, sub_id, "cancel")
    assert sub["state"] == "canceled", sub
    assert _triggers(m, sub_id, 7) == [*suspended, "resumed", "suspended", "canceled"]

    # Nothing else was sent: per subscription, the first payment's TRANSACTION and TOKEN
    # callbacks and its renewals (2, then 4 declined); 4 + 7 subscription callbacks.
    for cb in callbacks(m.receiver):
        if cb.type == "TRANSACTION":
            assert_callback_valid(m.profile, cb)
        else:
            assert cb.type == "TOKEN" and solutions_valid(m.profile.hmac_secret, cb.body, cb.hmac), cb.body
    assert_quiet(m.receiver, (2 + 2) + (2 + 4))
    assert len(subscription_callbacks(m.receiver)) == 4 + 7, [
        (c.data.get("id"), c.trigger) for c in subscription_callbacks(m.receiver)
    ]


# ---------------------------------------------------------------------------------------------
# The legacy Accept flow
# ---------------------------------------------------------------------------------------------


def test_legacy_iframe_flow_through_paymobz(merchant):
    m = merchant
    # paymobz's iframe.get_url: auth token, order, payment key, then a URL on accept.paymob.com
    # (hard-coded): only its host is rewritten to Kassa's.
    url = m.client.iframe.get_url(
        amount_cents=15000,
        billing_data=BILLING,
        integration_id=m.integration("card"),
        iframe_id=m.profile.iframe_id,
    )
    prefix = f"https://accept.paymob.com/api/acceptance/iframes/{m.profile.iframe_id}?payment_token="
    assert url.startswith(prefix), url
    page = http("GET", m.kassa.base + url[len("https://accept.paymob.com"):])
    assert page.status == 200 and 'id="pm-form"' in page.text, (page.status, page.text[:1000])

    token = query_of(url)["payment_token"]
    txn = pay(m.kassa, token, card_source())
    redirect = answer_challenge(m.kassa, txn["redirect_url"], "approve")
    q = assert_redirect_valid(m.profile, redirect)
    assert (q["success"], q["amount_cents"]) == ("true", "15000"), q
    cb = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, cb)
    assert cb.obj["order"]["id"] == int(q["order"]), cb.obj["order"]


def test_legacy_order_and_payment_key_through_paymob_solutions(merchant):
    m = merchant
    client = m.solutions()
    merchant_order_id = AcceptUtils.generate_merchant_order_id("shop", 1042)
    code, order, feedback = client.create_order(
        merchant_order_id, 20000, "EGP", items=[{"name": "Mug", "amount_cents": "20000", "quantity": "1"}]
    )
    assert code == SUCCESS, feedback
    assert order.merchant_order_id == merchant_order_id and int(order.amount_cents) == 20000, vars(order)
    code, fetched, feedback = client.get_order(order.id)
    assert code == SUCCESS and fetched.id == order.id, feedback
    code, key, feedback = client.create_payment_key(order.id, 20000, "EGP", BILLING, m.integration("card"))
    assert code == SUCCESS and key, feedback
    iframe = AcceptUtils.create_iframe_url(m.profile.iframe_id, key)
    assert iframe.startswith(m.kassa.url(f"/api/acceptance/iframes/{m.profile.iframe_id}?")), iframe
    assert http("GET", iframe).status == 200

    txn = pay(m.kassa, key, card_source())
    redirect = answer_challenge(m.kassa, txn["redirect_url"], "approve")
    q = assert_redirect_valid(m.profile, redirect)
    assert q["merchant_order_id"] == merchant_order_id and q["order"] == str(order.id), q
    cb = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, cb)

    # The inquiry, by merchant_order_id and by order id.
    code, found, feedback = client.get_transaction(merchant_order_id=merchant_order_id)
    assert code == SUCCESS and found.id == txn["id"] and found.success in (True, "true"), feedback
    code, found, feedback = client.get_transaction(order_id=order.id)
    assert code == SUCCESS and found.id == txn["id"], feedback
    # A duplicate merchant_order_id is refused.
    code, _, feedback = client.create_order(merchant_order_id, 20000, "EGP")
    assert code != SUCCESS and feedback.status_code in (400, 409, 422), feedback


# ---------------------------------------------------------------------------------------------
# Tampering
# ---------------------------------------------------------------------------------------------


def test_tampered_callback_and_redirect_fail_both_validators(merchant):
    m = merchant
    it = m.intention([m.integration("card")], amount=9900)
    txn = pay(m.kassa, m.key(it, "card"), card_source())
    redirect = answer_challenge(m.kassa, txn["redirect_url"], "approve")
    q = assert_redirect_valid(m.profile, redirect)
    cb = wait_transaction_callback(m.receiver, txn["id"], success=True)
    assert_callback_valid(m.profile, cb)

    obj = cb.obj
    for field, value in (
        ("amount_cents", 990000),
        ("success", False),
        ("id", obj["id"] + 1),
        ("currency", "USD"),
        ("order", {**obj["order"], "id": obj["order"]["id"] + 1}),
        ("source_data", {**obj["source_data"], "pan": "0000"}),
    ):
        assert_tamper_detected(m.profile, {**cb.body, "obj": {**obj, field: value}}, cb.hmac)
    # The right body with another signature, and the right signature under another secret.
    assert_tamper_detected(m.profile, cb.body, cb.hmac[:-1] + ("0" if cb.hmac[-1] != "0" else "1"))
    assert not paymobz_valid("0" * 32, cb.body, cb.hmac)
    assert not solutions_valid("0" * 32, cb.body, cb.hmac)

    for field, value in (("amount_cents", "1"), ("success", "false"), ("order", str(int(q["order"]) + 1)),
                         ("source_data.pan", "0000"), ("created_at", q["created_at"] + "1")):
        assert_tamper_detected(m.profile, redirect_as_callback({**q, field: value}), q["hmac"])
