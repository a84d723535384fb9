"""The merchant dashboard in headless Debian Chromium, on SQLite and on PostgreSQL.

A merchant's whole first day, as a person does it: the operator creates the owner with
`kassa user create`; the owner opens the single-use link, sets a password, turns on an
authenticator (the text key read by pyotp) and gets 10 recovery codes; signs out and back in
with password and code (a code already used is refused); finds a payment made through the API
(and a Paymentwall and a Paymob payment by their own references) in the list and by search;
refunds part of it behind the page's confirmation dialog, sees the refund, its event and the
webhook delivery in the timeline, and resends the webhook (a second attempt, received again);
confirms the password and rolls the API key the shop uses, which stops working at once while
the new one, shown once, works. A viewer sees payments without any money action, and a refund
forged with the viewer's own session and CSRF token is refused 403; a form without the CSRF
token, or sent from another origin, is refused 403 even with the owner's session.

Every page on the way passes axe-core (no serious or critical violation), loads nothing from
outside Kassa's origin and logs no console error. Home, the payments list and a payment's page
are photographed at 360 and 1280 px wide (`dashboard-<page>-<width>.png` in KASSA_SHOTS_DIR,
else target/screenshots) and must not scroll sideways at 360 px.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from dashboard_support import (
    Authenticator,
    check_page,
    create_user,
    expect_console_statuses,
    overflow,
    page_csrf,
    post_form,
    session_cookie,
)
from paymentwall_support import assert_paid, card_fields, create_project, open_link, pay
from paymob_support import BILLING, card_source, create_profile, http
from paymob_support import pay as paymob_pay
from test_payer_forms import _type, _wait

pytest.importorskip("selenium")
pytest.importorskip("pyotp")
pytest.importorskip("paymentwall")
from paymentwall import Paymentwall, Product, Widget  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from screenshots import Walk  # noqa: E402
from test_paymentwall_sdk import link as pw_link  # noqa: E402

DESKTOP = (1280, 800)
PHONE = (360, 740)
PASSWORD = "correct horse battery staple"
VIEWER_PASSWORD = "viewer only, no money moves"
SHOTS = Path(os.environ.get("KASSA_SHOTS_DIR") or REPO_ROOT / "target" / "screenshots")


# ---------------------------------------------------------------------------------------------
# Small steps
# ---------------------------------------------------------------------------------------------


def _at(driver, kassa, path: str, what: str):
    """Waits until the browser shows `path` of Kassa (query string ignored)."""
    want = kassa.url(path)
    _wait(driver, lambda d: d.current_url.split("?")[0] == want, what)


def _h1(driver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def _submit(driver, css: str):
    driver.find_element(By.CSS_SELECTOR, css).click()


def _accept_confirm(driver, text: str):
    """The page's script asks before money moves or keys change: say yes."""
    alert = _wait(driver, EC.alert_is_present(), f"the confirm dialog {text!r}")
    assert alert.text == text, alert.text
    alert.accept()


def _sign_out(driver, kassa):
    _submit(driver, "form.logout button[type=submit]")
    _at(driver, kassa, "/dashboard/login", "the sign-in page after signing out")


def _set_password(driver, kassa, user: dict, password: str):
    """Opens the set-up link, sets the password twice; the browser is signed in."""
    driver.get(user["setup_link"])
    _wait(driver, EC.visibility_of_element_located((By.ID, "password2")), "the set-up form")
    assert _h1(driver) == "Set your password"
    assert user["email"] in driver.find_element(By.TAG_NAME, "main").text
    check_page(driver, kassa, "set-up page")
    _type(driver, "password", password)
    _type(driver, "password2", password)
    _submit(driver, "main form button[type=submit]")
    _at(driver, kassa, "/dashboard/test/account/security", "the security page after setting the password")
    assert _h1(driver) == "Your account"
    assert f"{user['email']} ({user['role']})" in driver.find_element(By.CSS_SELECTOR, "header .who").text


def _rows(driver, table_css: str) -> list:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' tbody tr')].map(r => r.innerText);",
        table_css,
    )


def _search(driver, kassa, needle: str) -> list:
    """Types `needle` in the search box and presses Find; the rows found."""
    _type(driver, "q", needle)
    _submit(driver, "form.search button[type=submit]")
    _wait(
        driver,
        lambda d: urllib.parse.parse_qs(urllib.parse.urlsplit(d.current_url).query).get("q") == [needle],
        f"the search for {needle}",
    )
    return _rows(driver, "#payments")


def _timeline(driver) -> list:
    """The timeline's events with their deliveries, read in one go."""
    return driver.execute_script(
        """
        return [...document.querySelectorAll('#timeline li.event')].map(e => ({
          id: e.id,
          kind: e.querySelector('strong').textContent.trim(),
          deliveries: [...e.querySelectorAll('.delivery')].map(d => ({
            text: d.querySelector('p').innerText,
            status: d.querySelector('.dstatus').textContent.trim(),
            attempts: [...d.querySelectorAll('tr.attempt')].map(a => a.innerText),
            resend: !!d.querySelector('form[action$="/resend"] button'),
          })),
        }));
        """
    )


def _event_bodies(receiver, event_id: str) -> list:
    return [d for d in receiver.snapshot() if d.path == "/hook" and d.json().get("id") == event_id]


def _no_sideways_scroll(driver, width: int) -> bool:
    """Nothing sticks out of a page `width` px wide (see `dashboard_support.overflow`)."""
    return not overflow(driver, width)


# ---------------------------------------------------------------------------------------------
# Payments to find: one per face, made over plain HTTP
# ---------------------------------------------------------------------------------------------


def _native_payment(kassa, receiver) -> dict:
    pi = kassa.create_intent(receiver.url("/done"), amount=1000, currency="usd")
    status, paid = kassa.confirm(pi["id"], "pm_card_visa")
    assert status == 200 and paid["status"] == "succeeded", (status, paid)
    return paid


def _paymentwall_payment(kassa, pingbacks, monkeypatch) -> str:
    """A Paymentwall card payment through the official SDK's link; its `ref`."""
    project = create_project(kassa, "digital_goods", pingbacks.url("dash"))
    pingbacks.check_with("dash", lambda query, params, ip: (True, ""))
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    monkeypatch.setattr(Paymentwall, "errors", [])
    url = pw_link(project, "user-dash", [Product("product301", 9.99, "USD", "Gold Membership")], {"ps": "cc"})
    payment = assert_paid(pay(open_link(url), card_fields("4242 4242 4242 4242")))
    return payment["id"]


def _paymob_payment(kassa, receiver) -> tuple:
    """A Paymob card payment (no 3-D Secure); its order id and merchant order id."""
    profile = create_profile(kassa, receiver, ("card",), three_d_secure=False)
    r = http(
        "POST",
        kassa.url("/v1/intention/"),
        {"amount": 25000, "currency": "EGP", "payment_methods": ["card"], "billing_data": BILLING,
         "special_reference": "dash-order-7"},
        headers={"Authorization": f"Token {profile.secret_key}"},
    )
    assert r.status == 201, (r.status, r.text[:1000])
    (key,) = [k["key"] for k in r.json()["payment_keys"]]
    txn = paymob_pay(kassa, key, card_source())
    assert txn["success"] == "true" and txn["pending"] == "false", txn
    order = txn["order"]["id"] if isinstance(txn["order"], dict) else txn["order"]
    return str(order), "dash-order-7"


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


def test_a_merchants_first_day_in_the_dashboard(
    browser, kassa, receiver, pingbacks, database_url, monkeypatch
):
    d = browser
    walk = Walk(d, kassa, receiver, pingbacks, SHOTS, "")
    walk.size(*DESKTOP)
    owner = create_user(kassa, database_url, "owner@shop.example", "owner")
    viewer = create_user(kassa, database_url, "viewer@shop.example", "viewer")

    # ---- 1-2. The set-up link, the password, the authenticator ----
    _set_password(d, kassa, owner, PASSWORD)
    check_page(d, kassa, "security page")
    _submit(d, "form[action='/dashboard/test/account/totp'] button[type=submit]")
    secret = _wait(d, EC.visibility_of_element_located((By.ID, "totp-secret")), "the authenticator key").text
    assert len(secret) >= 16 and secret.isalnum(), secret
    assert d.find_element(By.CSS_SELECTOR, ".qr svg[role=img]").is_displayed()
    check_page(d, kassa, "security page: setting up the authenticator")
    app = Authenticator(secret)
    _type(d, "code", app.code())
    _submit(d, "form[action='/dashboard/test/account/totp/confirm'] button[type=submit]")
    codes = _wait(
        d, lambda d: d.find_elements(By.CSS_SELECTOR, "#recovery-codes li"), "the recovery codes"
    )
    codes = [c.text for c in codes]
    assert len(codes) == 10 and len(set(codes)) == 10 and all(codes), codes
    assert "On." in d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=totp-h]").text
    check_page(d, kassa, "security page: recovery codes")

    # ---- 3. Signing out and in again: password, then a fresh code ----
    first_session = session_cookie(d)
    _sign_out(d, kassa)
    assert d.get_cookie("kassa_dash") is None
    # Signing out ended the session on the server, not only in this browser.
    r = http("GET", kassa.url("/dashboard/test"), headers={"Cookie": f"kassa_dash={first_session}"})
    assert r.status == 303 and r.header("Location").startswith("/dashboard/login"), (r.status, r.headers)
    check_page(d, kassa, "sign-in page")
    _type(d, "email", owner["email"])
    _type(d, "password", PASSWORD + "!")
    _submit(d, "main form button[type=submit]")
    alert = _wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, "[role=alert]")), "the wrong-password error")
    assert "not right" in alert.text, alert.text
    expect_console_statuses(d, 401)
    _type(d, "password", PASSWORD)
    _submit(d, "main form button[type=submit]")
    _at(d, kassa, "/dashboard/second-factor", "the second-factor page")
    check_page(d, kassa, "second-factor page")
    # The code that turned the authenticator on was used: it does not sign in again.
    _type(d, "code", app.used_code())
    _submit(d, "main form button[type=submit]")
    alert = _wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, "[role=alert]")), "the used-code error")
    assert "used already" in alert.text, alert.text
    expect_console_statuses(d, 401)
    _type(d, "code", app.code())
    _submit(d, "main form button[type=submit]")
    _at(d, kassa, "/dashboard/test", "the dashboard home after the second factor")
    assert _h1(d) == "Home"
    first_step = d.find_element(By.CSS_SELECTOR, ".checklist li").get_attribute("class")
    assert first_step == "done", f"the authenticator step is not ticked: {first_step}"
    check_page(d, kassa, "home")

    # ---- 4. Payments made elsewhere, found in the list and by search ----
    status, endpoint = kassa.request(
        "POST", "/v1/webhook_endpoints", {"url": receiver.url("/hook"), "enabled_events": ["*"]}
    )
    assert status == 200, (status, endpoint)
    pi = _native_payment(kassa, receiver)
    pw_ref = _paymentwall_payment(kassa, pingbacks, monkeypatch)
    pm_order, pm_merchant_order = _paymob_payment(kassa, receiver)

    d.find_element(By.CSS_SELECTOR, "nav.side a[href='/dashboard/test/payments']").click()
    _at(d, kassa, "/dashboard/test/payments", "the payments list")
    rows = _rows(d, "#payments")
    assert len(rows) == 3, rows
    (row,) = [r for r in rows if pi["id"] in r]
    assert "10.00 USD" in row and "succeeded" in row and "visa •••• 4242" in row, row
    check_page(d, kassa, "payments list")
    found = _search(d, kassa, pi["id"])
    assert len(found) == 1 and pi["id"] in found[0], found
    check_page(d, kassa, "payments search")
    found = _search(d, kassa, pw_ref)
    assert len(found) == 1 and "9.99 USD" in found[0], f"searching the Paymentwall ref {pw_ref}: {found}"
    for needle in (pm_order, pm_merchant_order):
        found = _search(d, kassa, needle)
        assert len(found) == 1 and "250.00 EGP" in found[0], f"searching the Paymob order {needle}: {found}"
    assert _search(d, kassa, "pi_doesnotexist") == []
    assert "No payment of this account and mode has that id." in d.find_element(By.CSS_SELECTOR, "p.empty").text

    # ---- 5. The payment's page: a partial refund, its webhook, and resending it ----
    _search(d, kassa, pi["id"])
    d.find_element(By.CSS_SELECTOR, f"#payments a[href='/dashboard/test/payments/{pi['id']}']").click()
    _at(d, kassa, f"/dashboard/test/payments/{pi['id']}", "the payment's page")
    assert _h1(d) == "10.00 USD succeeded", _h1(d)
    assert d.find_element(By.ID, "pi-id").text == pi["id"]
    check_page(d, kassa, "payment page")
    _type(d, "refund-amount", "2.50")
    Select(d.find_element(By.ID, "refund-reason")).select_by_value("requested_by_customer")
    _submit(d, f"form[action$='/payments/{pi['id']}/refund'] button[type=submit]")
    _accept_confirm(d, "Refund this payment?")
    _wait(d, lambda d: "done=refund" in d.current_url, "the page after the refund")
    assert d.find_element(By.CSS_SELECTOR, ".flash[role=status]").text == "Refund created."
    refunds = _rows(d, "#refunds")
    assert len(refunds) == 1 and "2.50 USD" in refunds[0] and "requested_by_customer" in refunds[0], refunds
    refund_id = refunds[0].split()[-1]
    assert refund_id.startswith("re_"), refunds
    assert kassa.intent(pi["id"])["amount_refunded"] == 250
    facts = d.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert "Refunded\n2.50 USD" in facts and "Received\n10.00 USD" in facts, facts
    # What may still be refunded is offered next.
    assert d.find_element(By.ID, "refund-amount").get_attribute("value") == "7.50"

    delivered = receiver.wait_for(
        lambda got: any(
            x.path == "/hook" and x.json()["type"] == "refund.created" and x.json()["data"]["object"]["id"] == refund_id
            for x in got
        ),
        15,
        "the refund.created webhook",
    )
    (event_id,) = {
        x.json()["id"] for x in delivered
        if x.path == "/hook" and x.json()["type"] == "refund.created" and x.json()["data"]["object"]["id"] == refund_id
    }

    def refund_event(d):
        d.refresh()
        for e in _timeline(d):
            if e["id"] == event_id and e["deliveries"] and e["deliveries"][0]["attempts"]:
                return e
        return None

    event = _wait(d, refund_event, f"the refund.created event {event_id} with its delivery attempt")
    assert event["kind"] == "refund.created", event
    (delivery,) = event["deliveries"]
    # A webhook delivery names its endpoint by its URL.
    assert delivery["text"] == f"webhook to {endpoint['url']}: succeeded", delivery
    assert len(delivery["attempts"]) == 1 and "200" in delivery["attempts"][0], delivery
    assert delivery["resend"], delivery
    kinds = [e["kind"] for e in _timeline(d)]
    assert "payment_intent.succeeded" in kinds, kinds
    check_page(d, kassa, "payment page with a refund")

    d.find_element(By.CSS_SELECTOR, f"li[id='{event_id}'] form[action$='/resend'] button").click()
    _wait(d, lambda d: "done=resend" in d.current_url, "the page after resending")
    d.refresh()
    (event,) = [e for e in _timeline(d) if e["id"] == event_id]
    attempts = event["deliveries"][0]["attempts"]
    assert len(attempts) == 2, event
    assert all("200" in a for a in attempts), attempts
    receiver.wait_for(lambda got: len(_event_bodies(receiver, event_id)) == 2, 15, "the resent webhook")

    # ---- 10. Screenshots, and no sideways scrolling on a phone ----
    detail_url = d.current_url.split("?")[0]
    pages = [
        ("home", kassa.url("/dashboard/test")),
        ("payments", kassa.url("/dashboard/test/payments")),
        ("payment", detail_url),
    ]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size in (PHONE, DESKTOP):
        walk.size(*size)
        for name, url in pages:
            d.get(url)
            _wait(d, EC.visibility_of_element_located((By.TAG_NAME, "h1")), f"{name} at {size[0]} px")
            if size == PHONE:
                assert _no_sideways_scroll(d, size[0]), f"dashboard {name} scrolls sideways at {size[0]} px: {overflow(d, size[0])}"
            walk.shot(f"dashboard-{name}")
    for size in (PHONE, DESKTOP):
        for name, _ in pages:
            assert (SHOTS / f"dashboard-{name}-{size[0]}.png").is_file()
    check_page(d, kassa, "payment page at 1280 px")

    # ---- 6. Rolling the API key the shop uses ----
    d.find_element(By.CSS_SELECTOR, "nav.side a[href='/dashboard/test/developers/keys']").click()
    _at(d, kassa, "/dashboard/test/developers/keys", "the API keys page")
    # Signed in minutes ago: no password asked yet.
    assert _h1(d) == "API keys", _h1(d)
    check_page(d, kassa, "API keys page")
    # Confirming the password again (what the page asks 10 minutes after signing in).
    d.get(kassa.url("/dashboard/test/account/reauth?next=/dashboard/test/developers/keys"))
    assert _h1(d) == "Confirm your password"
    check_page(d, kassa, "password confirmation page")
    _type(d, "password", PASSWORD)
    _submit(d, "main form button[type=submit]")
    _at(d, kassa, "/dashboard/test/developers/keys", "the API keys page after confirming the password")

    old_key = kassa.secret_key
    shown = f"sk_test_…{old_key[-4:]}"
    (row,) = [
        r for r in d.find_elements(By.CSS_SELECTOR, "#keys tbody tr")
        if r.find_element(By.CSS_SELECTOR, "code").text == shown
    ]
    key_id = row.get_attribute("id")
    Select(row.find_element(By.CSS_SELECTOR, "select[name=expires_in]")).select_by_value("now")
    row.find_element(By.CSS_SELECTOR, f"form[action$='/keys/{key_id}/roll'] button[type=submit]").click()
    _accept_confirm(d, "Roll this key?")
    new_key = _wait(d, EC.visibility_of_element_located((By.ID, "new-key")), "the new key").text
    assert new_key.startswith("sk_test_") and new_key != old_key, new_key
    state = d.find_element(By.ID, key_id).text
    assert "expired" in state, state
    check_page(d, kassa, "API keys page with the new key")
    status, body = kassa.request("GET", "/v1/payment_intents", key=old_key)
    assert status == 401, f"the rolled key still works: HTTP {status}: {body}"
    status, body = kassa.request("GET", "/v1/payment_intents", key=new_key)
    assert status == 200 and len(body["data"]) >= 3, (status, body)

    # ---- 8. CSRF: the owner's own session, without the token or from elsewhere ----
    cookie = session_cookie(d)
    csrf = page_csrf(d)
    revoke = "/dashboard/test/account/sessions/revoke"
    r = post_form(kassa, revoke, cookie, {})
    assert r.status == 403 and "The form has expired" in r.text, (r.status, r.text[:500])
    r = post_form(kassa, revoke, cookie, {"csrf": "0" * len(csrf)})
    assert r.status == 403 and "The form has expired" in r.text, (r.status, r.text[:500])
    r = post_form(kassa, revoke, cookie, {"csrf": csrf}, origin="http://evil.example")
    assert r.status == 403 and "Refused" in r.text, (r.status, r.text[:500])
    r = post_form(kassa, revoke, cookie, {"csrf": csrf}, fetch_site="cross-site")
    assert r.status == 403 and "Refused" in r.text, (r.status, r.text[:500])
    refund_path = f"/dashboard/test/payments/{pi['id']}/refund"
    r = post_form(kassa, refund_path, cookie, {"amount": "1.00"}, fetch_site=None)
    assert r.status == 403, (r.status, r.text[:500])
    r = post_form(kassa, refund_path, cookie, {"csrf": csrf, "amount": "1.00"}, origin="http://evil.example")
    assert r.status == 403, (r.status, r.text[:500])
    # The same form, as the page sends it, goes through.
    r = post_form(kassa, revoke, cookie, {"csrf": csrf})
    assert r.status == 303 and r.header("Location") == "/dashboard/test/account/security", (r.status, r.text[:500])
    assert kassa.request("GET", f"/v1/payment_intents/{pi['id']}", key=new_key)[1]["amount_refunded"] == 250

    # ---- 7. A viewer: payments without money actions ----
    _sign_out(d, kassa)
    _set_password(d, kassa, viewer, VIEWER_PASSWORD)
    nav = d.find_element(By.CSS_SELECTOR, "nav.side").text
    assert "API keys" not in nav, nav
    # A set-up link works once.
    d.get(viewer["setup_link"])
    assert _h1(d) == "This link does not work", _h1(d)
    expect_console_statuses(d, 404)
    check_page(d, kassa, "a used set-up link")
    d.get(detail_url)
    assert _h1(d) == "10.00 USD succeeded", _h1(d)
    assert not d.find_elements(By.CSS_SELECTOR, "form[action$='/refund'], form[action$='/resend'], #refund-amount")
    assert not [b for b in d.find_elements(By.TAG_NAME, "button") if b.text.strip() in ("Refund", "Resend")]
    assert len(_rows(d, "#refunds")) == 1
    check_page(d, kassa, "payment page as a viewer")
    d.get(kassa.url("/dashboard/test/developers/keys"))
    assert _h1(d) == "Not allowed", _h1(d)
    expect_console_statuses(d, 403)
    d.get(detail_url)
    cookie = session_cookie(d)
    csrf = page_csrf(d)
    r = post_form(kassa, refund_path, cookie, {"csrf": csrf, "amount": "1.00"})
    assert r.status == 403 and "Not allowed" in r.text and "viewer" in r.text, (r.status, r.text[:500])
    r = post_form(
        kassa, f"/dashboard/test/payments/{pi['id']}/resend", cookie,
        {"csrf": csrf, "event": event_id, "endpoint": endpoint["id"]},
    )
    assert r.status == 403 and "Not allowed" in r.text, (r.status, r.text[:500])
    assert kassa.request("GET", f"/v1/payment_intents/{pi['id']}", key=new_key)[1]["amount_refunded"] == 250
    assert len(_event_bodies(receiver, event_id)) == 2
    check_page(d, kassa, "payment page as a viewer, after the forged posts")
