"""The Paymob dialect's pages in a real browser: headless Debian Chromium driven by Selenium.

Kassa's unified checkout (`/unifiedcheckout/?publicKey=&clientSecret=`) is used as a customer
would: choosing a method tile, typing the card (the page formats it), paying, approving on the
3-D Secure page and landing on the merchant's response URL, whose signed query must pass the
PyPI clients' HMAC checks (paymobz and paymob-solutions, as in test_paymob_sdk.py). Pixel is
embedded in a merchant page on another origin that the profile's `frame_ancestors` allows: the
card is typed into Kassa's card iframe, the merchant's `afterPaymentComplete` gets the pay
response, and the card never reaches the merchant's DOM. On a page the profile does not allow
(or by default, `'none'`) the browser refuses to show Kassa's frames.
"""

from __future__ import annotations

import html
import json
import secrets
import urllib.parse

import pytest

from paymob_support import (
    BILLING,
    RETURN_PATH,
    TEST_CARD,
    MerchantSite,
    assert_callback_valid,
    assert_quiet,
    answer_challenge,
    assert_redirect_valid,
    card_source,
    create_profile,
    http,
    pay,
    path_of,
    set_frame_ancestors,
    wait_callbacks,
    wait_transaction_callback,
)

pytest.importorskip("selenium")
pytest.importorskip("paymobz")
pytest.importorskip("paymob.accept")
from selenium.common.exceptions import (  # noqa: E402
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 15  # every wait is bounded
MOBILE = (390, 844)


def _wait(driver, condition, what: str):
    try:
        return WebDriverWait(
            driver,
            WAIT_S,
            poll_frequency=0.1,
            # A page may navigate away between two looks at it.
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, JavascriptException),
        ).until(condition)
    except TimeoutException:
        try:
            driver.switch_to.default_content()
            page = driver.find_element(By.TAG_NAME, "body").text[:2000]
        except Exception as e:  # only for the message
            page = f"(page unreadable: {e})"
        raise AssertionError(
            f"timed out after {WAIT_S} s waiting for {what}; at {driver.current_url}\n{page}"
        ) from None


def _assert_no_console_errors(driver):
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, f"the browser console has errors: {errors}"


def _intention(kassa, profile, methods: list, amount: int, **extra) -> dict:
    """`POST /v1/intention/` with the `Token` scheme of Paymob's docs."""
    r = http(
        "POST",
        kassa.url("/v1/intention/"),
        {"amount": amount, "currency": "EGP", "payment_methods": methods, "billing_data": BILLING, **extra},
        headers={"Authorization": f"Token {profile.secret_key}"},
    )
    assert r.status == 201, (r.status, r.text[:1000])
    return r.json()


def _checkout_url(kassa, profile, intention: dict, lang: str = "") -> str:
    query = {"publicKey": profile.public_key, "clientSecret": intention["client_secret"]}
    if lang:
        query["lang"] = lang
    return kassa.url("/unifiedcheckout/?" + urllib.parse.urlencode(query))


def _type(driver, field_id: str, text: str):
    el = driver.find_element(By.ID, field_id)
    el.click()
    el.clear()
    el.send_keys(text)
    return el


def _fill_card(driver, number: str = TEST_CARD, cvv: str = "123"):
    """Types the test card one field after the other (digits only: the page formats them)."""
    _type(driver, "card-number", number)
    _type(driver, "card-name", "Test Account")
    _type(driver, "card-expiry", "0139")
    _type(driver, "card-cvv", cvv)
    assert driver.find_element(By.ID, "card-number").get_attribute("value").replace(" ", "") == number
    assert driver.find_element(By.ID, "card-expiry").get_attribute("value") == "01/39"


def _choose(driver, method: str):
    tile = _wait(
        driver,
        EC.element_to_be_clickable((By.CSS_SELECTOR, f'#pm-methods label[data-method="{method}"]')),
        f"the {method} tile",
    )
    tile.click()


# ---------------------------------------------------------------------------------------------
# Unified checkout
# ---------------------------------------------------------------------------------------------


def test_unified_checkout_card_with_3d_secure_lands_on_the_signed_return_url(browser, kassa, receiver):
    profile = create_profile(kassa, receiver, ("card", "wallet", "kiosk"))
    special = f"web-{secrets.token_hex(4)}"
    it = _intention(kassa, profile, ["card", "wallet", "kiosk"], 34500, special_reference=special)
    browser.get(_checkout_url(kassa, profile, it))

    _wait(browser, EC.visibility_of_element_located((By.ID, "pm-methods")), "the payment methods")
    tiles = [t.get_attribute("data-method") for t in browser.find_elements(By.CSS_SELECTOR, "#pm-methods label[data-method]")]
    assert sorted(tiles) == ["card", "kiosk", "wallet"], tiles
    assert "345.00" in browser.find_element(By.ID, "pm-amount").text, browser.find_element(By.ID, "pm-amount").text
    _choose(browser, "card")
    _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card form")
    _fill_card(browser)
    browser.find_element(By.ID, "pay-button").click()

    _wait(browser, EC.url_contains("/api/acceptance/challenge/"), "the 3-D Secure page")
    assert browser.current_url.startswith(kassa.base), browser.current_url
    approve = _wait(browser, EC.element_to_be_clickable((By.ID, "approve")), "the #approve button")
    assert "345.00" in browser.find_element(By.ID, "amount").text
    approve.click()

    # The merchant's response URL (served by the receiver), with the signed query.
    _wait(browser, EC.url_contains(receiver.url(RETURN_PATH) + "?"), "the redirect to the response URL")
    assert path_of(browser.current_url) == receiver.url(RETURN_PATH), browser.current_url
    q = assert_redirect_valid(profile, browser.current_url)
    assert (q["success"], q["pending"], q["amount_cents"]) == ("true", "false", "34500"), q
    assert q["merchant_order_id"] == special and q["source_data.pan"] == "2346", q
    assert "hmac=" in browser.find_element(By.ID, "done").text

    cb = wait_transaction_callback(receiver, int(q["id"]), success=True)
    assert_callback_valid(profile, cb)
    assert cb.obj["order"]["merchant_order_id"] == special, cb.obj["order"]
    assert_quiet(receiver, 1)
    _assert_no_console_errors(browser)


def test_unified_checkout_in_arabic_is_right_to_left(browser, kassa, receiver):
    profile = create_profile(kassa, receiver, ("card", "wallet"))
    it = _intention(kassa, profile, ["card", "wallet"], 10000)
    browser.get(_checkout_url(kassa, profile, it, lang="ar"))
    _wait(browser, EC.visibility_of_element_located((By.ID, "pm-methods")), "the payment methods")
    root = browser.execute_script(
        "return {dir: document.documentElement.dir, lang: document.documentElement.lang,"
        " direction: getComputedStyle(document.body).direction}"
    )
    assert root == {"dir": "rtl", "lang": "ar", "direction": "rtl"}, root
    pay = browser.find_element(By.ID, "pay-button").text
    assert any("\u0600" <= ch <= "\u06ff" for ch in pay), f"the Pay button is not in Arabic: {pay!r}"
    # The card fields stay left to right.
    assert browser.find_element(By.ID, "card-number").get_attribute("dir") == "ltr"

    # The same page in English.
    browser.get(_checkout_url(kassa, profile, it))
    _wait(browser, EC.visibility_of_element_located((By.ID, "pm-methods")), "the payment methods")
    assert browser.execute_script("return document.documentElement.dir") == "ltr"
    _assert_no_console_errors(browser)


def test_unified_checkout_kiosk_shows_the_bill_reference(browser, kassa, receiver):
    profile = create_profile(kassa, receiver, ("card", "kiosk"))
    it = _intention(kassa, profile, ["card", "kiosk"], 6000)
    browser.get(_checkout_url(kassa, profile, it))
    _choose(browser, "kiosk")
    browser.find_element(By.ID, "pay-button").click()
    ref = _wait(browser, EC.visibility_of_element_located((By.ID, "bill-reference")), "the bill reference")
    assert ref.text.strip(), "empty bill reference"
    # The pending callback carries the same reference.
    got = wait_callbacks(receiver, lambda g: any(c.type == "TRANSACTION" for c in g), "the kiosk's pending callback")
    (cb,) = [c for c in got if c.type == "TRANSACTION"]
    assert_callback_valid(profile, cb)
    assert (cb.obj["pending"], cb.obj["success"]) == (True, False), cb.obj
    # Shown in groups of four digits, for reading out at the kiosk.
    assert str(cb.obj["data"]["bill_reference"]) == ref.text.replace(" ", ""), (cb.obj["data"], ref.text)
    _assert_no_console_errors(browser)


# ---------------------------------------------------------------------------------------------
# Pixel on the merchant's own page
# ---------------------------------------------------------------------------------------------

PIXEL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Merchant checkout</title><link rel="icon" href="data:,"></head>
<body><h1>Your basket</h1>
<div id="pixel-container"></div>
<script src="{kassa}/pixel/main.js"></script>
<script>
window.__pixelResult = null;
window.__validity = [];
new Pixel({{
  publicKey: {public_key},
  clientSecret: {client_secret},
  paymentMethods: ["card"],
  elementId: "pixel-container",
  cardValidationChanged: function (valid) {{ window.__validity.push(valid); }},
  afterPaymentComplete: function (res) {{
    window.__pixelResult = {{status: res.status, data: res.data}};
  }}
}});
</script>
</body></html>
"""

# The merchant page's DOM, including Pixel's open shadow root (not the cross-origin iframe).
MERCHANT_DOM_JS = """
const host = document.querySelector("#pixel-container div.kassa-pixel");
const shadow = host && host.shadowRoot ? host.shadowRoot.innerHTML : "";
const inputs = [];
for (const root of [document, host && host.shadowRoot]) {
  if (!root) continue;
  for (const el of root.querySelectorAll("input, textarea")) inputs.push(el.value);
}
return {html: document.documentElement.outerHTML, shadow: shadow, inputs: inputs,
        result: JSON.stringify(window.__pixelResult), storage: JSON.stringify(localStorage) + JSON.stringify(sessionStorage)};
"""


@pytest.fixture
def merchant_site():
    site = MerchantSite()
    try:
        yield site
    finally:
        site.stop()


def _pixel_frame(driver):
    host = driver.find_element(By.CSS_SELECTOR, "#pixel-container div.kassa-pixel")
    return host.shadow_root.find_element(By.CSS_SELECTOR, "iframe")


def _pay_button(driver):
    host = driver.find_element(By.CSS_SELECTOR, "#pixel-container div.kassa-pixel")
    return host.shadow_root.find_element(By.CSS_SELECTOR, "button.kp-pay")


def test_pixel_on_a_merchant_page_pays_without_the_card_reaching_the_merchant(
    browser, kassa, receiver, merchant_site
):
    # A phone-sized viewport.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": MOBILE[0], "height": MOBILE[1], "deviceScaleFactor": 2, "mobile": True},
    )
    # Without 3-D Secure: Pixel calls afterPaymentComplete (with it, it would leave for the
    # 3-D Secure page instead, reference §3).
    profile = create_profile(kassa, receiver, ("card",), three_d_secure=False)
    # Kassa's pages are framed nowhere by default: the merchant names its own site first.
    set_frame_ancestors(kassa, profile, merchant_site.origin)
    it = _intention(kassa, profile, ["card"], 19900)
    assert not merchant_site.origin.startswith(kassa.base)
    page = merchant_site.serve(
        "/checkout",
        PIXEL_PAGE.format(
            kassa=kassa.base,
            public_key=json.dumps(profile.public_key),
            client_secret=json.dumps(it["client_secret"]),
        ),
    )
    browser.get(page)

    frame = _wait(browser, _pixel_frame, "Pixel's card iframe")
    src = urllib.parse.urlsplit(frame.get_attribute("src"))
    assert f"{src.scheme}://{src.netloc}" == kassa.base, frame.get_attribute("src")
    assert src.path == "/iframe-card-v2/", src
    pay_button = _wait(browser, _pay_button, "Pixel's Pay button")
    assert "199.00" in pay_button.text, pay_button.text
    assert not pay_button.is_enabled(), "Pay is enabled before the card is typed"
    width = browser.execute_script("return window.innerWidth")
    assert width == MOBILE[0], width

    browser.switch_to.frame(frame)
    try:
        _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card fields in the frame")
        _fill_card(browser, cvv="123")
    finally:
        browser.switch_to.default_content()

    _wait(browser, lambda d: _pay_button(d).is_enabled(), "Pay to be enabled once the card is valid")
    assert browser.execute_script("return window.__validity.slice(-1)[0]") is True
    _pay_button(browser).click()

    result = _wait(browser, lambda d: d.execute_script("return window.__pixelResult"), "afterPaymentComplete")
    assert result["status"] == 200, result
    data = result["data"]
    assert (data["success"], data["pending"], data["is_3d_secure"]) == ("true", "false", "false"), data
    assert data["amount_cents"] == 19900 and data["source_data"]["pan"] == "2346", data
    # The page stayed where it was: the merchant decides what comes next.
    assert browser.current_url == page, browser.current_url

    cb = wait_transaction_callback(receiver, data["id"], success=True)
    assert_callback_valid(profile, cb)

    # The card number and the CVV never reached the merchant's page: not in its DOM, not in
    # Pixel's shadow root, not in the response the merchant's callback got.
    dom = browser.execute_script(MERCHANT_DOM_JS)
    spaced = " ".join(TEST_CARD[i:i + 4] for i in range(0, 16, 4))
    for where, text in dom.items():
        texts = text if isinstance(text, list) else [text]
        for t in texts:
            assert TEST_CARD not in t and spaced not in t, f"the card number is in the merchant's {where}"
            assert "cvn" not in t.lower(), f"the CVV field is in the merchant's {where}"
    assert dom["inputs"] == [], f"card inputs outside the iframe: {dom['inputs']}"
    assert "123" not in json.dumps(dom["inputs"])
    _assert_no_console_errors(browser)


FRAMING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Merchant checkout</title>
<link rel="icon" href="data:,"></head>
<body><h1>Pay here</h1>
<iframe id="checkout" src="{src}" title="Checkout" width="400" height="600"></iframe>
</body></html>
"""


def _wait_refusal(driver, what: str) -> str:
    """Waits for Chromium's console report of a frame-ancestors refusal; returns its message."""
    logs: list = []

    def refused(d):
        logs.extend(d.get_log("browser"))
        return any("frame-ancestors" in (e.get("message") or "") for e in logs)

    _wait(driver, refused, f"Chromium's frame-ancestors refusal of {what} in the console")
    return next(e["message"] for e in logs if "frame-ancestors" in (e.get("message") or ""))


def _frame_shows_no_card_fields(driver, frame) -> None:
    """The refused frame never ran Kassa's page: no card fields inside it."""
    driver.switch_to.frame(frame)
    try:
        assert driver.find_elements(By.ID, "card-number") == [], "the refused frame shows card fields"
    finally:
        driver.switch_to.default_content()


def test_pixel_on_a_page_the_profile_does_not_allow_is_refused(browser, kassa, receiver, merchant_site):
    other = "http://127.0.0.1:9"
    profile = create_profile(kassa, receiver, ("card",), three_d_secure=False, frame_ancestors=other)
    it = _intention(kassa, profile, ["card"], 19900)
    page = merchant_site.serve(
        "/checkout",
        PIXEL_PAGE.format(
            kassa=kassa.base,
            public_key=json.dumps(profile.public_key),
            client_secret=json.dumps(it["client_secret"]),
        ),
    )
    browser.get(page)
    _wait(browser, _pixel_frame, "Pixel's card iframe")
    message = _wait_refusal(browser, "Pixel's card frame")
    assert other in message, message
    _frame_shows_no_card_fields(browser, _pixel_frame(browser))
    assert browser.execute_script("return window.__pixelResult") is None


def test_unified_checkout_is_framed_nowhere_by_default(browser, kassa, receiver, merchant_site):
    profile = create_profile(kassa, receiver, ("card",))
    it = _intention(kassa, profile, ["card"], 5000)
    page = merchant_site.serve("/framed", FRAMING_PAGE.format(src=html.escape(_checkout_url(kassa, profile, it), quote=True)))
    browser.get(page)
    message = _wait_refusal(browser, "the unified checkout")
    assert "'none'" in message, message
    frame = browser.find_element(By.ID, "checkout")
    browser.switch_to.frame(frame)
    try:
        assert browser.find_elements(By.ID, "pm-methods") == [], "the refused checkout rendered"
    finally:
        browser.switch_to.default_content()


def test_status_page_shows_only_a_signed_result(browser, kassa, receiver):
    """Kassa's own status page (no response callback URL): a genuine redirect shows the result,
    in Arabic too; a forged query shows only that the result could not be verified."""
    profile = create_profile(kassa, receiver, ("card",))
    card = profile.integration_id("card")
    status, _ = kassa.request(
        "POST", f"/v1/paymob/profiles/{profile.id}/integrations/{card}", {"response_callback_url": ""}
    )
    assert status == 200
    it = _intention(kassa, profile, ["card"], 34500)
    key = next(k["key"] for k in it["payment_keys"] if k["integration"] == card)
    txn = pay(kassa, key, card_source())
    location = answer_challenge(kassa, txn["redirect_url"])
    assert path_of(location) == kassa.url("/unifiedcheckout/payment-status"), location
    assert_redirect_valid(profile, location)

    browser.get(location)
    _wait(browser, EC.text_to_be_present_in_element((By.ID, "status-title"), "Payment successful"), "the result")
    details = browser.find_element(By.ID, "status-details").text
    assert "345.00" in details and "2346" in details, details
    _assert_no_console_errors(browser)
    browser.get(location + "&lang=ar")
    _wait(browser, EC.text_to_be_present_in_element((By.ID, "status-title"), "تم الدفع بنجاح"), "the Arabic result")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"

    forged = urllib.parse.urlencode(
        {"success": "true", "pending": "false", "amount_cents": "99999900", "currency": "EGP",
         "id": txn["id"], "hmac": "0" * 128}
    )
    browser.get(kassa.url("/unifiedcheckout/payment-status?" + forged))
    _wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "status-title"), "We could not verify this payment result"),
        "the unverified result",
    )
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Payment successful" not in body and "999,999.00" not in body, body
    assert not browser.find_element(By.ID, "status-details").is_displayed()
