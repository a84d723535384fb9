"""Every payer form, measured in headless Debian Chromium at a phone and a desktop size.

Issue 10, item 1 (one design system for every payer page): the native checkout card form, the
Paymentwall card, wallet and one-time-code forms, Paymob Unified Checkout's card form, the card
frame Pixel embeds and the Paymob wallet PIN page all link Kassa's shared form rules
(/static/kassa-forms.css) and card script (/static/kassa-card.js). Measured from computed
styles: every visible input and button at least 44 px tall (WCAG 2.5.8), input text at least
16 px (no iOS zoom on focus), the primary action styled as the primary button (not the
browser's grey default), and axe-core (npm, tests/interop/axe) finds no serious or critical
violation. Typing a card number groups it and shows Kassa's brand mark; a bad
number is flagged next to the field before submitting. After a decline the form comes back
with every field but the CVC filled and the focus on the alert.
"""

from __future__ import annotations

import datetime
import os
import urllib.parse
from pathlib import Path

import pytest

from paymentwall_support import create_project
from paymob_support import BILLING, WALLET_PHONE, create_profile, http, pay, wallet_source

pytest.importorskip("selenium")
pytest.importorskip("paymentwall")
from paymentwall import Paymentwall, Product, Widget  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 15
# axe-core from npm (`npm ci --prefix tests/interop/axe`), injected into each page by the test.
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = [(390, 844), (1280, 800)]
# Screenshots for people to look at (never in the repository); off unless asked for.
SHOTS = os.environ.get("KASSA_SHOTS_DIR", "")
BROWSER_DEFAULT_BUTTON = "rgb(239, 239, 239)"


def _wait(driver, condition, what: str):
    try:
        return WebDriverWait(
            driver,
            WAIT_S,
            poll_frequency=0.1,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, JavascriptException),
        ).until(condition)
    except TimeoutException:
        try:
            page = driver.find_element(By.TAG_NAME, "body").text[:2000]
        except Exception as e:  # only for the message
            page = f"(page unreadable: {e})"
        raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}; at {driver.current_url}\n{page}") from None


def _size(driver, size):
    w, h = size
    driver.set_window_size(max(w, 500), h)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600},
    )


def _shot(driver, name: str):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def _expiry_digits() -> str:
    return f"12{(datetime.date.today().year + 3) % 100:02d}"


# Every visible control the payer can use (hidden inputs, checkboxes and radios, whose label is
# the target, left out), read in one script run.
CONTROLS_JS = """
const out = [];
for (const el of document.querySelectorAll('input, select, textarea, button, a.button')) {
  if (el.type === 'hidden' || el.type === 'checkbox' || el.type === 'radio') continue;
  const r = el.getBoundingClientRect();
  const cs = getComputedStyle(el);
  if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || cs.display === 'none') continue;
  out.push({
    id: el.id || el.name || el.className, tag: el.tagName.toLowerCase(), height: r.height,
    fontSize: parseFloat(cs.fontSize), background: cs.backgroundColor, color: cs.color,
    radius: parseFloat(cs.borderTopLeftRadius), classes: el.className || '',
    outline: cs.outlineStyle + ' ' + cs.outlineWidth,
  });
}
return out;
"""


def _assert_controls(driver, where: str, primary_id: str) -> list:
    controls = driver.execute_script(CONTROLS_JS)
    assert controls, f"{where}: no visible controls"
    small = [c for c in controls if c["height"] < 44 - 0.01]
    assert not small, f"{where}: controls under 44 px tall: {small}"
    tiny = [c for c in controls if c["tag"] in ("input", "select", "textarea") and c["fontSize"] < 16]
    assert not tiny, f"{where}: input text under 16 px: {tiny}"
    (primary,) = [c for c in controls if c["id"] == primary_id]
    assert primary["background"] not in (BROWSER_DEFAULT_BUTTON, "rgba(0, 0, 0, 0)"), f"{where}: {primary}"
    assert primary["color"] == "rgb(255, 255, 255)" and primary["radius"] > 0, f"{where}: {primary}"
    assert primary["fontSize"] >= 16, f"{where}: {primary}"
    return controls


def _assert_focus_ring(driver, where: str, element_id: str):
    """Focusing a field draws the shared 3 px ring."""
    driver.execute_script("document.getElementById(arguments[0]).focus()", element_id)
    ring = driver.execute_script(
        "const cs = getComputedStyle(document.getElementById(arguments[0]));"
        "return [cs.outlineStyle, parseFloat(cs.outlineWidth), cs.outlineColor];",
        element_id,
    )
    assert ring[0] == "solid" and ring[1] >= 2.9, f"{where}: focus ring {ring}"


def _type(driver, element_id: str, text: str):
    el = driver.find_element(By.ID, element_id)
    el.click()
    el.clear()
    el.send_keys(text)
    return el


def _brand(driver, brand_id: str = "card-brand"):
    return driver.execute_script(
        "const b = document.getElementById(arguments[0]);"
        "if (!b || b.hidden) return null;"
        "const r = b.getBoundingClientRect();"
        "return {brand: b.getAttribute('data-brand'), label: b.getAttribute('aria-label'),"
        " svg: !!b.querySelector('svg'), width: r.width};",
        brand_id,
    )


def _assert_formatting(driver, number_id: str, where: str):
    _type(driver, number_id, "4242424242424242")
    value = driver.find_element(By.ID, number_id).get_attribute("value")
    assert value == "4242 4242 4242 4242", f"{where}: {value!r}"
    brand = _brand(driver)
    assert brand and brand["brand"] == "visa" and brand["label"] == "Visa" and brand["svg"], f"{where}: {brand}"
    assert brand["width"] > 0, f"{where}: {brand}"
    _type(driver, number_id, "378282246310005")
    value = driver.find_element(By.ID, number_id).get_attribute("value")
    assert value == "3782 822463 10005", f"{where}: Amex grouping {value!r}"
    assert _brand(driver)["brand"] == "amex", where
    for digits, brand in (("5555555555554444", "mastercard"), ("6011111111111117", "discover")):
        _type(driver, number_id, digits)
        assert _brand(driver)["brand"] == brand, f"{where}: {digits}"


def _assert_inline_error(driver, number_id: str, other_id: str, where: str):
    """A number failing the Luhn check is flagged next to the field when the payer moves on."""
    _type(driver, number_id, "4242424242424241")
    driver.find_element(By.ID, other_id).click()
    error = _wait(
        driver,
        lambda d: d.find_element(By.ID, number_id + "-error").text.strip(),
        f"{where}: the inline error under the card number",
    )
    assert "card number" in error.lower() or "رقم البطاقة" in error, f"{where}: {error!r}"
    assert driver.find_element(By.ID, number_id).get_attribute("aria-invalid") == "true", where


def _assert_axe(driver, where: str):
    """axe-core finds no serious or critical accessibility violation on the page."""
    if not AXE.is_file():
        if os.environ.get("KASSA_REQUIRE_INTEROP") == "1":
            pytest.fail(f"KASSA_REQUIRE_INTEROP=1 but {AXE} is missing (npm ci --prefix tests/interop/axe)")
        return
    driver.execute_script(AXE.read_text() + "\nwindow.axe = axe;")
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then("
        "  r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
        "    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))),"
        "  e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));"
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{where}: axe-core violations: {bad}"


def _active_element_id(driver) -> str:
    return driver.execute_script("return document.activeElement && document.activeElement.id")


def _assert_no_console_errors(driver):
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, f"the browser console has errors: {errors}"


# ---------------------------------------------------------------------------------------------
# Native checkout
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_native_checkout_card_form(browser, kassa, receiver, size):
    _size(browser, size)
    pi = kassa.create_intent(receiver.url("/done"))
    browser.get(pi["checkout_url"])
    _wait(browser, EC.visibility_of_element_located((By.ID, "payment-form")), "the card form")
    _assert_controls(browser, "native checkout", "pay")
    _assert_axe(browser, "native checkout")
    _assert_focus_ring(browser, "native checkout", "number")
    _assert_formatting(browser, "number", "native checkout")
    _assert_inline_error(browser, "number", "exp", "native checkout")

    # A declined card: the form comes back with all but the CVC, the focus on the alert.
    _type(browser, "number", "4000000000000002")
    _type(browser, "exp", _expiry_digits())
    _type(browser, "cvc", "123")
    _type(browser, "name", "Ada Lovelace")
    browser.find_element(By.ID, "pay").click()
    alert = _wait(browser, EC.visibility_of_element_located((By.ID, "error")), "the decline alert")
    assert alert.get_attribute("role") == "alert" and "declined" in alert.text.lower(), alert.text
    _wait(browser, lambda d: _active_element_id(d) == "error", "the focus on the decline alert")
    # The page's own address again (a reload loads the page, it does not resend the form).
    assert browser.current_url == pi["checkout_url"], browser.current_url
    value = {f: browser.find_element(By.ID, f).get_attribute("value") for f in ("number", "exp", "cvc", "name")}
    assert value["exp"] == f"{_expiry_digits()[:2]} / {_expiry_digits()[2:]}", value
    assert value["name"] == "Ada Lovelace" and value["cvc"] == "", value
    assert value["number"] == "4000 0000 0000 0002", value
    assert browser.find_element(By.ID, "number").get_attribute("autocomplete") == "cc-number"
    assert _brand(browser)["brand"] == "visa"
    _assert_controls(browser, "native checkout after a decline", "pay")
    _assert_axe(browser, "native checkout after a decline")
    _shot(browser, f"native-declined-{size[0]}")

    # Only the CVC to type again: the payment then goes through.
    _type(browser, "number", "4242424242424242")
    _type(browser, "cvc", "123")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, lambda d: kassa.intent(pi["id"])["status"] == "succeeded", "the payment to succeed")
    _assert_no_console_errors(browser)


# The label is the target of the "save this card" box: at least 44 px tall, like every control.
SAVE_LABEL_JS = """
const r = document.querySelector('label[for="save"]').getBoundingClientRect();
return {height: r.height, width: r.width};
"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_native_checkout_save_this_card(browser, kassa, receiver, size):
    """An intent with a customer and `setup_future_usage: on_session` offers an unticked box;
    ticking it (by its label) survives a decline and saves the card once paid. With
    `off_session` the form says the card is kept instead."""
    _size(browser, size)
    status, cus = kassa.request("POST", "/v1/customers", {"email": "ada@example.com"})
    assert status == 200, cus
    status, pi = kassa.request(
        "POST",
        "/v1/payment_intents",
        {"amount": 1200, "currency": "usd", "customer": cus["id"], "setup_future_usage": "on_session",
         "return_url": receiver.url("/done")},
    )
    assert status == 200, pi
    browser.get(pi["checkout_url"])
    _wait(browser, EC.visibility_of_element_located((By.ID, "payment-form")), "the card form")
    box = browser.find_element(By.ID, "save")
    assert not box.is_selected(), "saving is the customer's choice"
    label = browser.execute_script(SAVE_LABEL_JS)
    assert label["height"] >= 44 - 0.01, f"the save label is the target: {label}"
    _assert_controls(browser, "native checkout with save", "pay")
    _assert_axe(browser, "native checkout with save")
    browser.find_element(By.CSS_SELECTOR, 'label[for="save"]').click()
    assert browser.find_element(By.ID, "save").is_selected(), "the label ticks the box"
    _shot(browser, f"native-save-{size[0]}")

    _type(browser, "number", "4000000000000002")
    _type(browser, "exp", _expiry_digits())
    _type(browser, "cvc", "123")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "error")), "the decline alert")
    assert browser.find_element(By.ID, "save").is_selected(), "the choice survives a decline"
    _type(browser, "number", "4242424242424242")
    _type(browser, "cvc", "123")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, lambda d: kassa.intent(pi["id"])["status"] == "succeeded", "the payment to succeed")
    status, methods = kassa.request("GET", f"/v1/customers/{cus['id']}/payment_methods")
    assert status == 200 and len(methods["data"]) == 1, methods
    assert methods["data"][0]["card"]["last4"] == "4242", methods
    assert kassa.intent(pi["id"])["payment_method"]["id"] == methods["data"][0]["id"]

    status, pi = kassa.request(
        "POST",
        "/v1/payment_intents",
        {"amount": 1200, "currency": "usd", "customer": cus["id"], "setup_future_usage": "off_session"},
    )
    assert status == 200, pi
    browser.get(pi["checkout_url"])
    notice = _wait(browser, EC.visibility_of_element_located((By.ID, "save-notice")), "the notice")
    assert "keep this card" in notice.text, notice.text
    assert not browser.find_elements(By.ID, "save"), "no box when the merchant needs the card"
    _assert_axe(browser, "native checkout with the save notice")
    _assert_no_console_errors(browser)


# ---------------------------------------------------------------------------------------------
# Paymentwall
# ---------------------------------------------------------------------------------------------


def _pw_link(kassa, pingbacks, ps: str) -> str:
    project = create_project(kassa, "digital_goods", pingbacks.url("forms"))
    pingbacks.check_with("forms", lambda query, params, ip: (True, ""))
    Paymentwall.set_api_type(Paymentwall.API_GOODS)
    Paymentwall.set_app_key(project.key)
    Paymentwall.set_secret_key(project.secret)
    product = Product("product301", 9.99, "USD", "Gold Membership")
    extra = {"success_url": "https://merchant.example/ok"}
    if ps:
        extra["ps"] = ps
    return Widget("user-forms", "p1_1", [product], extra).get_url()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paymentwall_card_form(browser, kassa, pingbacks, monkeypatch, size):
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    _size(browser, size)
    browser.get(_pw_link(kassa, pingbacks, ""))
    _wait(browser, EC.element_to_be_clickable((By.ID, "ps-cc")), "the method list").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "pay-form")), "the card form")
    _shot(browser, f"pw-card-{size[0]}")
    controls = _assert_controls(browser, "Paymentwall card form", "pay")
    ids = {c["id"] for c in controls}
    assert {"number", "exp", "cvc", "name", "pay", "change-method"} <= ids, ids
    _assert_focus_ring(browser, "Paymentwall card form", "exp")
    _assert_formatting(browser, "number", "Paymentwall card form")
    _assert_inline_error(browser, "number", "exp", "Paymentwall card form")

    # CVC 111: the sandbox issuer declines (incorrect CVC).
    _type(browser, "number", "4242424242424242")
    _type(browser, "exp", _expiry_digits())
    _type(browser, "cvc", "111")
    _type(browser, "name", "Jo Doe")
    browser.find_element(By.ID, "pay").click()
    alert = _wait(browser, EC.visibility_of_element_located((By.ID, "decline")), "the decline alert")
    assert alert.get_attribute("role") == "alert", alert.get_attribute("outerHTML")
    _wait(browser, lambda d: _active_element_id(d) == "decline", "the focus on the decline alert")
    url = urllib.parse.urlsplit(browser.current_url)
    assert url.path.startswith("/pw/orders/") and not url.path.endswith("/pay") and url.query == "ps=cc", url
    value = {f: browser.find_element(By.ID, f).get_attribute("value") for f in ("number", "exp", "cvc", "name")}
    assert value["exp"] == f"{_expiry_digits()[:2]} / {_expiry_digits()[2:]}", value
    assert value["name"] == "Jo Doe" and value["cvc"] == "", value
    assert value["number"] == "4242 4242 4242 4242", value
    _assert_controls(browser, "Paymentwall card form after a decline", "pay")
    _assert_axe(browser, "Paymentwall card form after a decline")
    _shot(browser, f"pw-card-declined-{size[0]}")

    _type(browser, "cvc", "123")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, lambda d: d.find_element(By.ID, "thank-you"), "the thank-you page")
    _assert_no_console_errors(browser)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paymentwall_wallet_and_code_forms(browser, kassa, pingbacks, monkeypatch, size):
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    _size(browser, size)
    browser.get(_pw_link(kassa, pingbacks, ""))
    _wait(browser, EC.element_to_be_clickable((By.ID, "ps-sandboxwallet")), "the method list").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "phone")), "the wallet form")
    _assert_controls(browser, "Paymentwall wallet form", "pay")
    _assert_axe(browser, "Paymentwall wallet form")
    _assert_focus_ring(browser, "Paymentwall wallet form", "phone")
    _type(browser, "phone", "+491701234567")
    _shot(browser, f"pw-wallet-{size[0]}")
    browser.find_element(By.ID, "pay").click()

    _wait(browser, EC.visibility_of_element_located((By.ID, "otp")), "the one-time-code form")
    _assert_controls(browser, "Paymentwall one-time-code form", "confirm")
    _assert_axe(browser, "Paymentwall one-time-code form")
    _assert_focus_ring(browser, "Paymentwall one-time-code form", "otp")
    _shot(browser, f"pw-code-{size[0]}")
    _type(browser, "otp", "123456")
    browser.find_element(By.ID, "confirm").click()
    _wait(browser, lambda d: d.find_element(By.ID, "thank-you"), "the thank-you page")
    _assert_no_console_errors(browser)


# ---------------------------------------------------------------------------------------------
# Paymob
# ---------------------------------------------------------------------------------------------


def _intention(kassa, profile, methods: list) -> dict:
    r = http(
        "POST",
        kassa.url("/v1/intention/"),
        {"amount": 25000, "currency": "EGP", "payment_methods": methods, "billing_data": BILLING},
        headers={"Authorization": f"Token {profile.secret_key}"},
    )
    assert r.status == 201, (r.status, r.text[:1000])
    return r.json()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paymob_unified_checkout_card_form(browser, kassa, receiver, size):
    _size(browser, size)
    profile = create_profile(kassa, receiver, ("card", "wallet"))
    it = _intention(kassa, profile, ["card", "wallet"])
    query = urllib.parse.urlencode({"publicKey": profile.public_key, "clientSecret": it["client_secret"]})
    browser.get(kassa.url("/unifiedcheckout/?" + query))
    _wait(
        browser,
        EC.element_to_be_clickable((By.CSS_SELECTOR, '#pm-methods label[data-method="card"]')),
        "the card tile",
    ).click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card form")
    _assert_controls(browser, "Paymob unified checkout", "pay-button")
    _assert_axe(browser, "Paymob unified checkout")
    _assert_focus_ring(browser, "Paymob unified checkout", "card-number")
    _assert_formatting(browser, "card-number", "Paymob unified checkout")
    _assert_inline_error(browser, "card-number", "card-name", "Paymob unified checkout")
    _shot(browser, f"pm-unified-{size[0]}")
    _assert_no_console_errors(browser)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paymob_pixel_card_frame(browser, kassa, size):
    """The card frame on its own (Pixel frames it): the same controls and card script."""
    _size(browser, size)
    browser.get(kassa.url("/iframe-card-v2/"))
    _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card fields")
    controls = browser.execute_script(CONTROLS_JS)
    small = [c for c in controls if c["height"] < 44 - 0.01 or c["fontSize"] < 16]
    assert controls and not small, small
    _assert_axe(browser, "Pixel card frame")
    _assert_formatting(browser, "card-number", "Pixel card frame")
    _assert_inline_error(browser, "card-number", "card-name", "Pixel card frame")
    _shot(browser, f"pm-card-frame-{size[0]}")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paymob_wallet_pin_page(browser, kassa, receiver, size):
    _size(browser, size)
    profile = create_profile(kassa, receiver, ("wallet",))
    it = _intention(kassa, profile, ["wallet"])
    (key,) = [k["key"] for k in it["payment_keys"]]
    txn = pay(kassa, key, wallet_source(WALLET_PHONE))
    browser.get(txn["redirect_url"])
    _wait(browser, EC.visibility_of_element_located((By.ID, "mpin")), "the wallet PIN form")
    controls = _assert_controls(browser, "Paymob wallet PIN page", "approve")
    assert {"mpin", "otp", "approve", "fail"} <= {c["id"] for c in controls}, controls
    _assert_focus_ring(browser, "Paymob wallet PIN page", "mpin")
    _assert_axe(browser, "Paymob wallet PIN page")
    _shot(browser, f"pm-wallet-{size[0]}")
    _assert_no_console_errors(browser)
