"""The native hosted checkout in the payer's language, in headless Chromium (issue 10).

A flow started in Arabic (`?lang=ar` and an Arabic Accept-Language, set through CDP) goes from
the card form through the simulated 3-D Secure page to the end and stays `lang="ar" dir="rtl"`
on every page, with the card digits kept left to right and the brand mark on the left. Every
page (form, 3-D Secure, done, canceled, message) is measured at 390x844 and 1280x800 from
computed styles: touch targets at least 44 px tall, input text at least 16 px, no serious or
critical axe-core finding, and no request outside Kassa's own origin. A decline in French keeps
the expiry and the name, puts the focus on the alert and says why in French.
"""

from __future__ import annotations

import urllib.parse

import pytest

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

from test_payer_forms import (  # noqa: E402
    _active_element_id,
    _assert_axe,
    _assert_no_console_errors,
    _expiry_digits,
    _shot,
    _size,
    _type,
    _wait,
)

SIZES = [(390, 844), (1280, 800)]
ARABIC = "ar-EG,ar;q=0.9"
FRENCH = "fr-FR,fr;q=0.9,en;q=0.5"

# Every control a finger may aim at (hidden inputs left out), and every input's text size, read
# in one script run; plus the page's language and where every request of the page went.
PAGE_JS = """
const targets = [];
for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
  if (el.type === 'hidden') continue;
  const r = el.getBoundingClientRect();
  const cs = getComputedStyle(el);
  if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || cs.display === 'none') continue;
  targets.push({id: el.id || el.getAttribute('href') || el.tagName, tag: el.tagName.toLowerCase(),
                height: r.height, fontSize: parseFloat(cs.fontSize), direction: cs.direction});
}
const requests = performance.getEntriesByType('navigation').concat(
  performance.getEntriesByType('resource')).map(e => e.name);
return {
  lang: document.documentElement.getAttribute('lang'),
  dir: document.documentElement.getAttribute('dir'),
  scrolls: document.documentElement.scrollWidth > window.innerWidth,
  targets: targets,
  requests: requests,
  url: location.href,
};
"""


def _speak(driver, accept_language: str):
    """Every request of this browser from now on sends this Accept-Language."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": accept_language}})


def _same_origin(url: str, base: str) -> bool:
    if url.startswith("data:"):
        return True
    u, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (u.scheme, u.netloc) == (b.scheme, b.netloc)


def _check_page(driver, kassa, where: str, lang: str, dir_: str, size, controls: bool = True) -> dict:
    """The shared floors of every page of the flow; a screenshot named page-lang-WxH. `controls`:
    the page has something to press (a done page without a return URL has nothing)."""
    state = driver.execute_script(PAGE_JS)
    assert (state["lang"], state["dir"]) == (lang, dir_), f"{where}: {state['lang']} {state['dir']} at {state['url']}"
    assert bool(state["targets"]) == controls, f"{where}: controls {state['targets']}"
    small = [t for t in state["targets"] if t["height"] < 44 - 0.01]
    assert not small, f"{where}: touch targets under 44 px: {small}"
    tiny = [t for t in state["targets"] if t["tag"] in ("input", "select", "textarea") and t["fontSize"] < 16]
    assert not tiny, f"{where}: input text under 16 px: {tiny}"
    outside = [r for r in state["requests"] if not _same_origin(r, kassa.base)]
    assert not outside, f"{where}: requests outside Kassa's origin: {outside}"
    assert _same_origin(driver.current_url, kassa.base), f"{where}: navigated to {driver.current_url}"
    assert not state["scrolls"], f"{where}: the page scrolls sideways at {size}"
    _assert_axe(driver, where)
    _shot(driver, f"{where}-{lang}-{size[0]}x{size[1]}")
    return state


def _brand_side(driver) -> str:
    """Which side of the card-number field the brand mark sits on: "left" or "right"."""
    return driver.execute_script(
        "const b = document.getElementById('card-brand').getBoundingClientRect();"
        "const i = document.getElementById('number').getBoundingClientRect();"
        "return (b.left + b.right) / 2 < (i.left + i.right) / 2 ? 'left' : 'right';"
    )


def _data_status(driver):
    return driver.execute_script(
        "const s = document.getElementById('status'); return s ? s.getAttribute('data-status') : null;"
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_flow_started_in_arabic_stays_arabic_through_3d_secure_to_the_end(browser, kassa, size):
    _size(browser, size)
    _speak(browser, ARABIC)
    # No return URL: the done page stays put (no automatic redirect) so it can be measured.
    status, pi = kassa.request("POST", "/v1/payment_intents", {"amount": 25000, "currency": "egp"})
    assert status == 200, pi
    browser.get(pi["checkout_url"] + "?lang=ar")
    _wait(browser, EC.visibility_of_element_located((By.ID, "payment-form")), "the card form")
    _check_page(browser, kassa, "form", "ar", "rtl", size)
    pay = browser.find_element(By.ID, "pay").text
    assert pay.startswith("ادفع") and "250.00" in pay and "ج.م." in pay, pay
    assert browser.find_element(By.ID, "status").text == "في انتظار الدفع"
    assert _data_status(browser) == "requires_payment_method"
    form = browser.find_element(By.ID, "payment-form")
    assert form.get_attribute("action").endswith("/pay?lang=ar"), form.get_attribute("action")

    # The digits keep their order; the brand mark sits at the page's end: the left.
    _type(browser, "number", "4000002500003155")
    assert browser.find_element(By.ID, "number").get_attribute("value") == "4000 0025 0000 3155"
    assert browser.execute_script("return getComputedStyle(document.getElementById('number')).direction") == "ltr"
    assert _brand_side(browser) == "left"
    _type(browser, "exp", _expiry_digits())
    _type(browser, "cvc", "123")
    _type(browser, "name", "سارة أحمد")
    browser.find_element(By.ID, "pay").click()

    _wait(browser, EC.element_to_be_clickable((By.ID, "approve")), "the bank's 3-D Secure page")
    assert "/sandbox/3ds/pa_" in browser.current_url and browser.current_url.endswith("?lang=ar"), browser.current_url
    _check_page(browser, kassa, "3ds", "ar", "rtl", size)
    assert browser.find_element(By.ID, "approve").text == "إتمام المصادقة"
    assert "3155" in browser.find_element(By.ID, "card").text
    browser.find_element(By.ID, "approve").click()

    _wait(browser, lambda d: _data_status(d) == "succeeded", "the success page")
    assert browser.current_url.endswith("?lang=ar"), browser.current_url
    state = _check_page(browser, kassa, "done", "ar", "rtl", size, controls=False)
    assert browser.find_element(By.ID, "state-title").text == "تم الدفع بنجاح"
    assert browser.find_element(By.ID, "status").text == "تم الدفع"
    assert kassa.intent(pi["id"])["status"] == "succeeded"
    assert state["requests"], "the performance entries were read"
    _assert_no_console_errors(browser)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_arabic_back_link_canceled_and_message_pages(browser, kassa, receiver, size):
    _size(browser, size)
    _speak(browser, ARABIC)
    pi = kassa.create_intent(receiver.url("/done"), amount=25000, currency="egp")
    # Only the browser's language this time: every request decides the same way.
    browser.get(pi["checkout_url"])
    _wait(browser, EC.visibility_of_element_located((By.ID, "payment-form")), "the card form")
    _check_page(browser, kassa, "form-back", "ar", "rtl", size)
    back = browser.find_element(By.ID, "back")
    assert "العودة إلى" in back.text, back.text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(back.get_attribute("href")).query)
    assert query == {"payment_intent": [pi["id"]], "redirect_status": ["requires_payment_method"]}, query
    # The arrow points back, mirrored for right to left.
    transform = browser.execute_script(
        "return getComputedStyle(document.querySelector('#back .back-arrow')).transform"
    )
    assert transform not in ("none", ""), transform

    status, _ = kassa.request("POST", f"/v1/payment_intents/{pi['id']}/cancel", {})
    assert status == 200
    browser.get(pi["checkout_url"])
    _wait(browser, lambda d: _data_status(d) == "canceled", "the canceled page")
    _check_page(browser, kassa, "canceled", "ar", "rtl", size)
    ret = browser.find_element(By.ID, "return")
    assert ret.get_attribute("href").endswith("redirect_status=failed"), ret.get_attribute("href")
    assert browser.find_element(By.ID, "status").text == "أُلغي"
    _assert_no_console_errors(browser)

    # (The 404 below is logged by the browser as a failed load, as it should be.)
    browser.get(kassa.url("/checkout/cs_doesnotexist"))
    _wait(browser, EC.visibility_of_element_located((By.ID, "message-title")), "the not-found page")
    # An unknown link has no way forward Kassa could know of: no control on the page.
    _check_page(browser, kassa, "message", "ar", "rtl", size, controls=False)
    assert browser.find_element(By.ID, "message-title").text == "صفحة الدفع غير موجودة"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_decline_in_french_keeps_expiry_and_name_and_focuses_the_alert(browser, kassa, receiver, size):
    _size(browser, size)
    _speak(browser, FRENCH)
    pi = kassa.create_intent(receiver.url("/done"), amount=1000, currency="eur")
    browser.get(pi["checkout_url"])
    _wait(browser, EC.visibility_of_element_located((By.ID, "payment-form")), "the card form")
    _check_page(browser, kassa, "form", "fr", "ltr", size)
    assert browser.find_element(By.ID, "pay").get_attribute("textContent").strip() == "Payer 10,00\u00a0€"
    _type(browser, "number", "4242424242424241")
    browser.find_element(By.ID, "exp").click()
    error = _wait(browser, lambda d: d.find_element(By.ID, "number-error").text.strip(), "the inline error")
    assert error == "Ce numéro de carte est incorrect. Vérifiez-le et réessayez.", error

    _type(browser, "number", "4000000000000002")
    assert _brand_side(browser) == "right"
    _type(browser, "exp", _expiry_digits())
    _type(browser, "cvc", "123")
    _type(browser, "name", "Ada Lovelace")
    browser.find_element(By.ID, "pay").click()
    alert = _wait(browser, EC.visibility_of_element_located((By.ID, "error")), "the decline alert")
    assert alert.text == "Votre carte a été refusée. Essayez une autre carte.", alert.text
    _wait(browser, lambda d: _active_element_id(d) == "error", "the focus on the decline alert")
    assert browser.current_url == pi["checkout_url"], browser.current_url
    value = {f: browser.find_element(By.ID, f).get_attribute("value") for f in ("exp", "cvc", "name")}
    assert value == {
        "exp": f"{_expiry_digits()[:2]} / {_expiry_digits()[2:]}",
        "cvc": "",
        "name": "Ada Lovelace",
    }, value
    _check_page(browser, kassa, "declined", "fr", "ltr", size)
    assert browser.find_element(By.ID, "status").text == "En attente de paiement"
    _assert_no_console_errors(browser)
