"""The dashboard's Paymob section in headless Debian Chromium, on SQLite and on PostgreSQL.

A developer creates a test profile in the dashboard and copies its four credentials from the
page that shows them once; moves the card integration's processed callback URL on its edit
page; pays through the PyPI client `paymobz` (the customer's part over HTTP, as the hosted
checkout does it), and the payment's callback arrives at the new URL only, passing both PyPI
clients' HMAC validators (paymobz and paymob-solutions). The developer then recreates the HMAC
secret (the next callback passes with the new secret and fails with the old one) and the
secret key (the old key is refused at once), sends a test callback from the callback testing
tool (the receiver's answer, the signed message and the HMAC on the page; the sample passes
both validators), checks that callback in the HMAC calculator, and sets the checkout's name,
colour and logo. A viewer sees the profile without any form, and a change forged with the
viewer's own session is refused 403; a form without the CSRF token is refused 403.

Every page passes axe-core, loads nothing from elsewhere and logs no console error; the list,
integrations, keys and callback testing pages are photographed at 360 and 1280 px
(`dashboard-paymob-<page>-<width>.png`) and do not scroll sideways at 360 px.
"""

from __future__ import annotations

import json
import struct
import zlib
from types import SimpleNamespace

import pytest
from dashboard_support import (
    check_page,
    create_user,
    expect_console_statuses,
    page_csrf,
    post_form,
    session_cookie,
)
from paymob_support import (
    BILLING,
    CALLBACK_PATH,
    RETURN_PATH,
    answer_challenge,
    assert_callback_valid,
    callbacks,
    card_source,
    http,
    pay,
    verdicts,
    wait_transaction_callback,
)
from test_dashboard import (
    DESKTOP,
    PHONE,
    SHOTS,
    _accept_confirm,
    _at,
    _h1,
    _no_sideways_scroll,
    _rows,
    _set_password,
    _submit,
)
from test_payer_forms import _type, _wait

pytest.importorskip("selenium")
pytest.importorskip("paymobz")
pytest.importorskip("paymob.accept")
from paymobz.client.sync import PaymobClient
from paymobz.config import PaymobConfig
from screenshots import Walk
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

PASSWORD = "paymob profiles, shown once"
VIEWER_PASSWORD = "a viewer of paymob profiles"
OLD_PATH = "/paymob/old"


def _png(width: int = 48, height: int = 24) -> bytes:
    """A small solid PNG, written by hand (no imaging library needed)."""
    raw = b"".join(b"\x00" + bytes((11, 87, 208)) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text.strip()


def _paid_with_paymobz(kassa, creds: dict, integration: int) -> dict:
    """An intention through paymobz's Intention resource, paid by card (3-D Secure answered
    when asked); returns the transaction as paid."""
    client = PaymobClient(
        PaymobConfig(
            base_url=kassa.base,
            secret_key=creds["secret_key"],
            public_key=creds["public_key"],
            hmac_key=creds["hmac_secret"],
            api_key=creds["api_key"],
        )
    )
    try:
        it = client.intention.create(
            {"amount": 12500, "currency": "EGP", "payment_methods": [integration], "billing_data": BILLING,
             "items": [{"name": "Item", "amount": 12500, "quantity": 1}]}
        )
    finally:
        client.close()
    (key,) = [k["key"] for k in it["payment_keys"]]
    txn = pay(kassa, key, card_source())
    if txn["is_3d_secure"] == "true":
        answer_challenge(kassa, txn["redirect_url"])
    return txn


def _shots(driver, walk, pages: list):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size in (PHONE, DESKTOP):
        walk.size(*size)
        for name, url in pages:
            driver.get(url)
            _wait(driver, EC.visibility_of_element_located((By.TAG_NAME, "h1")), f"{name} at {size[0]} px")
            if size == PHONE:
                assert _no_sideways_scroll(driver, size[0]), f"{name} scrolls sideways at {size[0]} px"
            walk.shot(f"dashboard-paymob-{name}")
    walk.size(*DESKTOP)


def test_paymob_profiles_in_the_dashboard(browser, kassa, receiver, database_url, tmp_path):
    d = browser
    walk = Walk(d, kassa, receiver, None, SHOTS, "")
    walk.size(*DESKTOP)
    dev = create_user(kassa, database_url, "dev@shop.example", "developer")
    viewer = create_user(kassa, database_url, "viewer@shop.example", "viewer")
    _set_password(d, kassa, dev, PASSWORD)

    # ---- 1. A profile, its credentials shown once ----
    d.find_element(By.CSS_SELECTOR, "nav.side a[href='/dashboard/test/paymob']").click()
    _at(d, kassa, "/dashboard/test/paymob", "the Paymob profiles page")
    assert _h1(d) == "Paymob profiles"
    check_page(d, kassa, "Paymob profiles, none yet")
    _type(d, "pm-name", "Nile Shop")
    Select(d.find_element(By.ID, "pm-country")).select_by_value("egy")
    for box in d.find_elements(By.CSS_SELECTOR, "input[name=kind]"):
        if box.get_attribute("value") != "card" and box.is_selected():
            box.click()
    _type(d, "pm-processed", receiver.url(OLD_PATH))
    _type(d, "pm-response", receiver.url(RETURN_PATH))
    _submit(d, "form[action='/dashboard/test/paymob'] button[type=submit]")
    _wait(d, EC.visibility_of_element_located((By.ID, "hmac_secret")), "the new profile's credentials")
    creds = {k: _text(d, k) for k in ("secret_key", "public_key", "api_key", "hmac_secret")}
    assert creds["secret_key"].startswith("egy_sk_test_") and creds["public_key"].startswith("egy_pk_test_"), creds
    assert len(creds["hmac_secret"]) == 32, creds
    assert "not shown again" in d.find_element(By.CSS_SELECTOR, ".flash[role=status]").text
    check_page(d, kassa, "the new profile's credentials")
    profile_id = int(d.find_element(By.CSS_SELECTOR, "nav.pm-tabs a").get_attribute("href").rsplit("/", 1)[1])
    base = f"/dashboard/test/paymob/{profile_id}"
    d.get(kassa.url(f"{base}/keys"))
    assert creds["public_key"] in d.page_source
    assert not [v for k, v in creds.items() if k != "public_key" and v in d.page_source], "a secret is shown again"

    # ---- 2. The card integration's processed callback URL moves ----
    d.find_element(By.CSS_SELECTOR, f"nav.pm-tabs a[href$='/paymob/{profile_id}']").click()
    rows = _rows(d, "#pm-integrations")
    assert len(rows) == 1 and "card" in rows[0] and OLD_PATH in rows[0] and "on" in rows[0], rows
    check_page(d, kassa, "the integrations tab")
    card = int(d.find_element(By.CSS_SELECTOR, "#pm-integrations tbody tr").get_attribute("id").split("-")[1])
    d.find_element(By.CSS_SELECTOR, f"a[href='{base}/integrations/{card}']").click()
    _at(d, kassa, f"{base}/integrations/{card}", "the integration's page")
    check_page(d, kassa, "the integration's page")
    _type(d, "int-name", "web card")
    _type(d, "int-processed", receiver.url(CALLBACK_PATH))
    if d.find_element(By.ID, "int-3ds").is_selected():
        d.find_element(By.ID, "int-3ds").click()
    _submit(d, "main form button[type=submit]")
    _wait(d, lambda d: "done=updated" in d.current_url, "the integrations tab after saving")
    assert d.find_element(By.CSS_SELECTOR, ".flash[role=status]").text == "Integration saved."
    (row,) = _rows(d, "#pm-integrations")
    assert "web card" in row and CALLBACK_PATH in row and OLD_PATH not in row and "off" in row, row

    # ---- 3. A real payment through paymobz: its callback goes to the new URL ----
    txn = _paid_with_paymobz(kassa, creds, card)
    cb = wait_transaction_callback(receiver, txn["id"], success=True)
    profile = SimpleNamespace(hmac_secret=creds["hmac_secret"])
    assert_callback_valid(profile, cb)
    assert not [x for x in receiver.snapshot() if x.path.startswith(OLD_PATH)], "a callback went to the old URL"

    # ---- 4. Recreating the HMAC secret and the secret key ----
    d.get(kassa.url(f"{base}/keys"))
    check_page(d, kassa, "the keys tab")
    _submit(d, "form[action$='/keys/hmac_secret/recreate'] button[type=submit]")
    _accept_confirm(d, "Recreate the HMAC secret? The current one stops working at once.")
    new_secret = _wait(d, EC.visibility_of_element_located((By.ID, "hmac_secret")), "the new HMAC secret").text
    assert len(new_secret) == 32 and new_secret != creds["hmac_secret"], new_secret
    check_page(d, kassa, "the keys tab with a new HMAC secret")
    txn2 = _paid_with_paymobz(kassa, creds, card)
    cb2 = wait_transaction_callback(receiver, txn2["id"], success=True)
    assert_callback_valid(SimpleNamespace(hmac_secret=new_secret), cb2)
    old = verdicts(creds["hmac_secret"], cb2.body, cb2.hmac)
    assert old == {"paymobz": False, "paymob-solutions": False}, f"the old secret still validates: {old}"
    creds["hmac_secret"] = new_secret

    _submit(d, "form[action$='/keys/secret_key/recreate'] button[type=submit]")
    _accept_confirm(d, "Recreate the secret key? The current one stops working at once.")
    new_key = _wait(d, EC.visibility_of_element_located((By.ID, "secret_key")), "the new secret key").text
    body = {"amount": 100, "currency": "EGP", "payment_methods": [card], "billing_data": BILLING}
    r = http("POST", kassa.url("/v1/intention/"), body, headers={"Authorization": f"Token {creds['secret_key']}"})
    assert r.status == 401, f"the old secret key still works: {r.status} {r.text[:300]}"
    r = http("POST", kassa.url("/v1/intention/"), body, headers={"Authorization": f"Token {new_key}"})
    assert r.status == 201, (r.status, r.text[:300])
    creds["secret_key"] = new_key

    # ---- 5. The callback testing tool ----
    d.find_element(By.CSS_SELECTOR, "nav.pm-tabs a[href$='/callback-test']").click()
    _at(d, kassa, f"{base}/callback-test", "the callback testing tab")
    check_page(d, kassa, "the callback testing tab")
    before = len(callbacks(receiver))
    _submit(d, "main form button[type=submit]")
    _wait(d, EC.visibility_of_element_located((By.ID, "cb-result")), "the test callback's result")
    assert _text(d, "cb-answer") == "HTTP 200" and _text(d, "cb-excerpt") == "ok"
    assert _text(d, "cb-latency").endswith(" ms")
    check_page(d, kassa, "the callback testing tab with a result")
    got = [c for c in callbacks(receiver)[before:] if c.type == "TRANSACTION"]
    assert len(got) == 1, got
    sample = got[0]
    assert sample.obj["order"]["merchant_order_id"].startswith("kassa-test-callback-"), sample.obj
    assert sample.hmac == _text(d, "cb-hmac")
    assert_callback_valid(SimpleNamespace(hmac_secret=new_secret), sample)
    message = _text(d, "cb-message")
    assert message.startswith(str(sample.obj["amount_cents"])) and message.endswith("true"), message

    # ---- 6. The HMAC calculator agrees ----
    d.find_element(By.CSS_SELECTOR, "nav.pm-tabs a[href$='/hmac']").click()
    _at(d, kassa, f"{base}/hmac", "the HMAC calculator")
    check_page(d, kassa, "the HMAC calculator")
    d.find_element(By.ID, "hmac-input").send_keys(json.dumps(sample.body))
    _type(d, "hmac-given", sample.hmac)
    _submit(d, "main form button[type=submit]")
    _wait(d, EC.visibility_of_element_located((By.ID, "hmac-result")), "the HMAC calculator's result")
    assert _text(d, "hmac-value") == sample.hmac and _text(d, "hmac-message") == message
    assert _text(d, "hmac-verdict") == "matches"
    assert new_secret not in d.page_source
    check_page(d, kassa, "the HMAC calculator with a result")

    # ---- 7. The checkout's look ----
    d.find_element(By.CSS_SELECTOR, "nav.pm-tabs a[href$='/look']").click()
    _at(d, kassa, f"{base}/look", "the checkout look tab")
    check_page(d, kassa, "the checkout look tab")
    _type(d, "look-name", "Nile Shop Cairo")
    _type(d, "look-color", "#0a66c2")
    _submit(d, "form[action$='/look'] button[type=submit]")
    _wait(d, lambda d: "done=look" in d.current_url, "the look tab after saving")
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png())
    d.find_element(By.ID, "look-logo").send_keys(str(logo))
    _submit(d, "form[action$='/look/logo'] button[type=submit]")
    _wait(d, lambda d: "done=logo" in d.current_url, "the look tab after the upload")
    img = d.find_element(By.CSS_SELECTOR, "img.pm-logo")
    assert d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 48
    check_page(d, kassa, "the checkout look tab with a logo")
    status, brand = kassa.request("GET", f"/v1/paymob/profiles/{profile_id}/branding")
    assert status == 200 and brand["display_name"] == "Nile Shop Cairo" and brand["logo"]["width"] == 48, brand

    _shots(d, walk, [
        ("list", kassa.url("/dashboard/test/paymob")),
        ("integrations", kassa.url(base)),
        ("keys", kassa.url(f"{base}/keys")),
        ("callback", kassa.url(f"{base}/callback-test")),
        ("look", kassa.url(f"{base}/look")),
    ])

    # ---- 8. CSRF, and a viewer ----
    cookie = session_cookie(d)
    edit = f"{base}/integrations/{card}"
    r = post_form(kassa, edit, cookie, {"name": "forged", "processed_callback_url": receiver.url(OLD_PATH)})
    assert r.status == 403 and "The form has expired" in r.text, (r.status, r.text[:300])
    _submit(d, "form.logout button[type=submit]")
    _at(d, kassa, "/dashboard/login", "the sign-in page")
    _set_password(d, kassa, viewer, VIEWER_PASSWORD)
    d.get(kassa.url(base))
    assert "web card" in _rows(d, "#pm-integrations")[0]
    assert not d.find_elements(By.CSS_SELECTOR, "main form"), "a viewer gets no form"
    assert not d.find_elements(By.CSS_SELECTOR, "nav.pm-tabs a[href$='/hmac'], nav.pm-tabs a[href$='/callback-test']")
    check_page(d, kassa, "the integrations tab as a viewer")
    d.get(kassa.url(f"{base}/keys"))
    assert not d.find_elements(By.CSS_SELECTOR, "form[action$='/recreate']")
    d.get(kassa.url(f"{base}/hmac"))
    assert _h1(d) == "Not allowed"
    expect_console_statuses(d, 403)
    d.get(kassa.url(base))
    cookie, csrf = session_cookie(d), page_csrf(d)
    for path, form in [
        (edit, {"csrf": csrf, "name": "forged", "processed_callback_url": receiver.url(OLD_PATH)}),
        (f"{base}/keys/hmac_secret/recreate", {"csrf": csrf}),
        (f"{base}/callback-test", {"csrf": csrf, "integration": str(card)}),
    ]:
        r = post_form(kassa, path, cookie, form)
        assert r.status == 403 and "Not allowed" in r.text, (path, r.status, r.text[:300])
    status, p = kassa.request("GET", f"/v1/paymob/profiles/{profile_id}")
    (integration,) = p["integrations"]
    assert integration["name"] == "web card" and integration["processed_callback_url"] == receiver.url(CALLBACK_PATH)
    assert len(callbacks(receiver)) == before + 1, "the forged test callback was not sent"
