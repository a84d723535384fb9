"""The Paymentwall payment page in the payer's language, in headless Debian Chromium at a phone
and a desktop size (issue 10, "Languages", "Never stuck", "References").

A flow started with `lang=ar` stays `<html lang="ar" dir="rtl">` on every page to the
thank-you page: the method list, the card form, simulated 3-D Secure, the wallet form and its
one-time-code page, the cash-voucher form and the voucher itself, and a refused link's error
page. Each of these pages is measured from computed styles (every control at least 44 px tall,
input text at least 16 px), checked by axe-core (no serious or critical violation) and makes no
request outside Kassa's origin. The voucher's Copy button puts the ungrouped reference on the
clipboard (permission granted through CDP) or, without the clipboard, selects it. A decline in
Turkish keeps every field but the CVC and moves the focus to the alert. The link's widget code
chooses the layout: the desktop widgets put the order summary beside the form on a wide screen
(on the right in Arabic), the mobile widgets keep one column.
"""

from __future__ import annotations

import urllib.parse

import pytest

from paymentwall_support import create_project
from test_payer_forms import (
    SIZES,
    _active_element_id,
    _assert_axe,
    _assert_no_console_errors,
    _expiry_digits,
    _shot,
    _size,
    _type,
    _wait,
)

pytest.importorskip("selenium")
pytest.importorskip("paymentwall")
from paymentwall import Paymentwall, Product, Widget  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

# Every visible control, plus the method rows (links the payer taps).
TARGETS_JS = """
const out = [];
for (const el of document.querySelectorAll('input, select, textarea, button, a.button, a.pw-method')) {
  if (el.type === 'hidden' || el.type === 'checkbox' || el.type === 'radio') continue;
  const r = el.getBoundingClientRect();
  const cs = getComputedStyle(el);
  if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || cs.display === 'none') continue;
  out.push({id: el.id || el.name || el.className, tag: el.tagName.toLowerCase(), height: r.height,
            fontSize: parseFloat(cs.fontSize)});
}
return out;
"""

OUTSIDE_JS = """
const origin = location.origin;
return performance.getEntriesByType('resource').map(e => e.name)
  .filter(u => !u.startsWith(origin + '/') && !u.startsWith('data:'));
"""


def _link(kassa, pingbacks, lang: str, ps: str = "", name: str = "lang", widget: str = "p1_1") -> str:
    project = create_project(kassa, "digital_goods", pingbacks.url(name))
    pingbacks.check_with(name, lambda query, params, ip: (True, ""))
    Paymentwall.set_api_type(Paymentwall.API_GOODS)
    Paymentwall.set_app_key(project.key)
    Paymentwall.set_secret_key(project.secret)
    product = Product("product301", 250.00, "EGP", "Gold Membership")
    extra = {
        "success_url": "https://merchant.example/ok",
        "failure_url": "https://merchant.example/cancelled",
        "lang": lang,
    }
    if ps:
        extra["ps"] = ps
    return Widget("user-lang", widget, [product], extra).get_url()


def _check_page(driver, page: str, lang: str, size, *, dir_: str = "ltr"):
    """The page speaks `lang` in `dir_`, has big enough targets and text, passes axe, stays on
    Kassa's origin; a screenshot is taken when asked for."""
    html = driver.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == (lang, dir_), f"{page}: {driver.current_url}"
    controls = driver.execute_script(TARGETS_JS)
    small = [c for c in controls if c["height"] < 44 - 0.01]
    assert not small, f"{page}: targets under 44 px tall: {small}"
    tiny = [c for c in controls if c["tag"] in ("input", "select", "textarea") and c["fontSize"] < 16]
    assert not tiny, f"{page}: input text under 16 px: {tiny}"
    _assert_axe(driver, f"{page} ({lang})")
    outside = driver.execute_script(OUTSIDE_JS)
    assert not outside, f"{page}: requests outside Kassa's origin: {outside}"
    _shot(driver, f"pw-{page}-{lang}-{size[0]}x{size[1]}")


def _pay_card(driver, number: str, cvc: str):
    _type(driver, "number", number)
    _type(driver, "exp", _expiry_digits())
    _type(driver, "cvc", cvc)
    _type(driver, "name", "Jo Doe")
    driver.find_element(By.ID, "pay").click()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_arabic_flow_stays_right_to_left(browser, kassa, pingbacks, monkeypatch, size):
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    _size(browser, size)
    ar = lambda page: _check_page(browser, page, "ar", size, dir_="rtl")  # noqa: E731

    # Card through 3-D Secure to the thank-you page.
    browser.get(_link(kassa, pingbacks, "ar"))
    _wait(browser, EC.element_to_be_clickable((By.ID, "ps-cc")), "the method list")
    assert "اختر طريقة الدفع" in browser.find_element(By.ID, "methods-title").text
    ar("methods")
    browser.find_element(By.ID, "ps-cc").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "pay-form")), "the card form")
    assert browser.find_element(By.ID, "number").get_attribute("dir") == "ltr"
    ar("card")
    _pay_card(browser, "4000000000003220", "123")
    _wait(browser, EC.element_to_be_clickable((By.ID, "approve")), "3-D Secure")
    assert "3-D Secure" in browser.find_element(By.TAG_NAME, "h2").text
    ar("3ds")
    browser.find_element(By.ID, "approve").click()
    _wait(browser, lambda d: d.find_element(By.ID, "thank-you"), "the thank-you page")
    assert "شكرًا" in browser.find_element(By.ID, "thank-you").text
    ar("success")

    # Wallet: the phone form and the one-time-code page.
    browser.get(_link(kassa, pingbacks, "ar", "sandboxwallet", "wallet"))
    _wait(browser, EC.visibility_of_element_located((By.ID, "phone")), "the wallet form")
    assert browser.find_element(By.ID, "phone").get_attribute("dir") == "ltr"
    ar("wallet")
    _type(browser, "phone", "+201001234567")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "otp")), "the one-time-code page")
    ar("wallet-code")
    _type(browser, "otp", "123456")
    browser.find_element(By.ID, "confirm").click()
    _wait(browser, lambda d: d.find_element(By.ID, "thank-you"), "the wallet thank-you page")
    ar("wallet-success")

    # Cash voucher: the form, then the reference with its expiry and the Copy button.
    browser.get(_link(kassa, pingbacks, "ar", "sandboxcash", "voucher"))
    _wait(browser, EC.element_to_be_clickable((By.ID, "pay")), "the voucher form")
    ar("voucher-form")
    browser.find_element(By.ID, "pay").click()
    ref = _wait(browser, EC.visibility_of_element_located((By.ID, "voucher")), "the voucher reference")
    number = ref.get_attribute("data-reference")
    assert number.isdigit() and len(number) == 12, number
    assert ref.text == " ".join(number[i : i + 4] for i in range(0, 12, 4)), ref.text
    assert ref.get_attribute("dir") == "ltr"
    expiry = browser.find_element(By.ID, "voucher-expires")
    assert "صالحة حتى" in expiry.text and expiry.get_attribute("datetime").endswith("Z"), expiry.text
    _wait(browser, EC.visibility_of_element_located((By.ID, "copy-reference")), "the Copy button")
    ar("voucher")
    _assert_copy(browser, number)

    _assert_no_console_errors(browser)

    # A refused link (its signature broken) still speaks the link's language.
    url = _link(kassa, pingbacks, "ar", "", "refused").replace("amount=250", "amount=251")
    browser.get(url)
    _wait(browser, EC.visibility_of_element_located((By.ID, "error-message")), "the refused-link page")
    assert "غير مصرح" in browser.find_element(By.ID, "error-message").text
    ar("error")
    # Its 403 is the one expected console line; no script or CSP error.
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE" and "403" not in e["message"]]
    assert not errors, errors


def _assert_copy(driver, number: str):
    """Copy puts the digits on the clipboard and says so; without the clipboard it selects
    the reference."""
    origin = driver.execute_script("return location.origin")
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    driver.find_element(By.ID, "copy-reference").click()
    status = _wait(driver, lambda d: d.find_element(By.ID, "copy-status").text.strip(), "the copy announcement")
    if status == "تم النسخ":
        got = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.clipboard.readText().then(done, e => done('ERR ' + e));"
        )
        assert got == number, got
    else:
        selected = driver.execute_script("return String(window.getSelection())")
        assert selected.replace(" ", "") == number, (status, selected)
    assert driver.find_element(By.ID, "copy-status").get_attribute("aria-live") == "polite"

    # Without the clipboard API, the reference is selected for the payer to copy.
    driver.execute_script("Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})")
    driver.find_element(By.ID, "copy-reference").click()
    _wait(
        driver,
        lambda d: d.execute_script("return String(window.getSelection())").replace(" ", "") == number,
        "the reference selected",
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_turkish_decline_keeps_fields_and_focuses_the_alert(browser, kassa, pingbacks, monkeypatch, size):
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    _size(browser, size)
    browser.get(_link(kassa, pingbacks, "tr", "cc", "tr"))
    _wait(browser, EC.visibility_of_element_located((By.ID, "pay-form")), "the card form")
    pay = browser.find_element(By.ID, "pay").text
    assert pay.endswith(" öde") and "250,00" in pay, pay
    _check_page(browser, "card", "tr", size)
    # CVC 111: the sandbox issuer declines (incorrect CVC).
    _pay_card(browser, "4242424242424242", "111")
    alert = _wait(browser, EC.visibility_of_element_located((By.ID, "decline")), "the decline alert")
    assert alert.text == "Kartınızın güvenlik kodu hatalı.", alert.text
    _wait(browser, lambda d: _active_element_id(d) == "decline", "the focus on the decline alert")
    url = urllib.parse.urlsplit(browser.current_url)
    assert url.path.startswith("/pw/orders/") and url.query == "ps=cc", url
    value = {f: browser.find_element(By.ID, f).get_attribute("value") for f in ("number", "exp", "cvc", "name")}
    assert value["exp"] == f"{_expiry_digits()[:2]} / {_expiry_digits()[2:]}", value
    assert value["name"] == "Jo Doe" and value["cvc"] == "", value
    assert value["number"] == "4242 4242 4242 4242", value
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("tr", "ltr")
    _check_page(browser, "card-declined", "tr", size)
    # The cancel link returns to the shop's failure_url.
    cancel = browser.find_element(By.ID, "cancel")
    assert cancel.get_attribute("href") == "https://merchant.example/cancelled" and cancel.text.startswith("İptal et")
    _type(browser, "cvc", "123")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, lambda d: d.find_element(By.ID, "thank-you"), "the thank-you page")
    _check_page(browser, "success", "tr", size)
    _assert_no_console_errors(browser)


LAYOUT_JS = """
const box = el => { const r = el.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
return {layout: document.getElementById('pw').dataset.layout,
        head: box(document.querySelector('.card > .summary')),
        body: box(document.getElementById('pw-body'))};
"""


def _layout(driver) -> dict:
    return driver.execute_script(LAYOUT_JS)


def test_widget_codes_choose_the_layout(browser, kassa, pingbacks, monkeypatch):
    """`p1_1` (a desktop widget): summary beside the card form at 1280x800, to the right of it in
    Arabic, above it at 390x844. `m2_1` (the mobile widget): above it at every size."""
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    cases = [
        ("p1_1", "en", (1280, 800), "beside"),
        ("p1_1", "ar", (1280, 800), "beside-rtl"),
        ("p1_1", "en", (390, 844), "above"),
        ("m2_1", "en", (1280, 800), "above"),
        ("m2_1", "ar", (390, 844), "above"),
    ]
    for i, (widget, lang, size, where) in enumerate(cases):
        _size(browser, size)
        browser.get(_link(kassa, pingbacks, lang, "cc", f"layout{i}", widget))
        _wait(browser, EC.visibility_of_element_located((By.ID, "pay-form")), f"{widget}: the card form")
        got = _layout(browser)
        head, body = got["head"], got["body"]
        what = f"{widget} {lang} {size}: {got}"
        assert got["layout"] == ("two" if widget.startswith("p1") else "one"), what
        if where == "above":
            assert head["bottom"] <= body["top"] + 0.5, what
            assert abs(head["left"] - body["left"]) < 1 and abs(head["right"] - body["right"]) < 1, what
        else:
            # Side by side: the two columns overlap vertically and not horizontally.
            assert head["top"] < body["bottom"] and body["top"] < head["bottom"], what
            if where == "beside":
                assert head["right"] <= body["left"], what
            else:
                assert head["left"] >= body["right"], what
            # The form column is at least as wide as on a phone.
            assert body["right"] - body["left"] >= 340, what
        _check_page(browser, f"layout-{widget}", lang, size, dir_="rtl" if lang == "ar" else "ltr")
    _assert_no_console_errors(browser)
