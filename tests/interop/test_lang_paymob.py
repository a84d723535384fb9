"""The Paymob payer pages in the payer's language, in headless Chromium at a phone and a desktop
size (issue 10: languages, never stuck, references).

A Unified Checkout started in Arabic stays `lang="ar" dir="rtl"` through the 3-D Secure page and
the status page, and through the wallet flow; French, German, Spanish and Turkish show the
catalog's words and amounts as the server writes them (CLDR), and the switcher changes the
language in place. On every page: touch targets of at least 44 px, input text of at least 16 px,
no serious or critical axe-core finding, and no request outside Kassa's origin. A profile's
branding reaches the payer: its display name, its logo (loaded) and its accent on the Pay
button, through the 3-D Secure and status pages. The status
page's "Try again" leads back to a payable checkout; Pixel shows a decline in its own box even
when the merchant passes `afterPaymentComplete`; the kiosk reference is grouped, left to right,
with an expiry and a Copy button that works (clipboard, or the number selected).
"""

from __future__ import annotations

import json
import struct
import urllib.parse
import urllib.request
import zlib

import pytest

from paymob_support import (
    BILLING,
    DECLINED_CARD,
    TEST_CARD,
    WALLET_MPIN,
    WALLET_OTP,
    WALLET_PHONE,
    MerchantSite,
    create_profile,
    http,
    set_frame_ancestors,
)
from test_payer_forms import (
    CONTROLS_JS,
    SIZES,
    _assert_axe,
    _assert_controls,
    _assert_no_console_errors,
    _expiry_digits,
    _shot,
    _size,
    _wait,
)

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]


def _words(kassa, lang: str, amounts=()) -> dict:
    """The catalog the pages use (/pm/i18n/{lang}), with these EGP amounts as the server writes them."""
    query = urllib.parse.urlencode([("currency", "EGP")] + [("minor", str(a)) for a in amounts])
    r = http("GET", kassa.url(f"/pm/i18n/{lang}?{query}"))
    assert r.status == 200, r.text[:500]
    return r.json()


def _t(words: dict, key: str, **args) -> str:
    face, rest = key.split(".", 1)
    text = words["text"][face][rest]
    for k, v in args.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def _profile(kassa, receiver, kinds, **kw):
    """A profile whose payments end on Kassa's own status page (no response callback URL)."""
    profile = create_profile(kassa, receiver, kinds, **kw)
    for kind in kinds:
        iid = profile.integrations[kind]["id"]
        status, body = kassa.request(
            "POST", f"/v1/paymob/profiles/{profile.id}/integrations/{iid}", {"response_callback_url": ""}
        )
        assert status == 200, body
    return profile


def _intention(kassa, profile, methods, amount, **extra) -> dict:
    r = http(
        "POST",
        kassa.url("/v1/intention/"),
        {"amount": amount, "currency": "EGP", "payment_methods": methods, "billing_data": BILLING, **extra},
        headers={"Authorization": f"Token {profile.secret_key}"},
    )
    assert r.status == 201, (r.status, r.text[:1000])
    return r.json()


def _checkout(kassa, profile, it, lang="") -> str:
    q = {"publicKey": profile.public_key, "clientSecret": it["client_secret"]}
    if lang:
        q["lang"] = lang
    return kassa.url("/unifiedcheckout/?" + urllib.parse.urlencode(q))


def _root(driver) -> dict:
    return driver.execute_script(
        "return {lang: document.documentElement.lang, dir: document.documentElement.dir,"
        " direction: getComputedStyle(document.body).direction}"
    )


def _assert_root(driver, lang: str, where: str):
    want = {"lang": lang, "dir": "rtl" if lang == "ar" else "ltr", "direction": "rtl" if lang == "ar" else "ltr"}
    assert _root(driver) == want, f"{where}: {_root(driver)}"


def _assert_same_origin(driver, where: str, *origins: str):
    """Every resource the page loaded came from these origins (Kassa's, and the merchant's page)."""
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([location.href]);"
    )
    outside = [u for u in urls if not u.startswith("data:") and not any(u.startswith(o + "/") for o in origins)]
    assert not outside, f"{where}: requests outside {origins}: {outside}"


def _assert_touch(driver, where: str):
    """Every visible control at least 44 px tall, input text at least 16 px."""
    controls = driver.execute_script(CONTROLS_JS)
    small = [c for c in controls if c["height"] < 44 - 0.01]
    tiny = [c for c in controls if c["tag"] in ("input", "select", "textarea") and c["fontSize"] < 16]
    assert not small and not tiny, f"{where}: {small} {tiny}"
    links = driver.execute_script(
        "return [...document.querySelectorAll('.lang-link')].filter(a => a.offsetParent)"
        ".map(a => a.getBoundingClientRect().height)"
    )
    assert all(h >= 44 - 0.01 for h in links), f"{where}: language links {links}"


def _check_page(driver, kassa, where: str, lang: str, size, primary: str = ""):
    _assert_root(driver, lang, where)
    if primary:
        _assert_controls(driver, where, primary)
    _assert_touch(driver, where)
    _assert_axe(driver, where)
    _assert_same_origin(driver, where, kassa.base)
    _shot(driver, f"{where}-{lang}-{size[0]}x{size[1]}")


def _text(driver, el) -> str:
    """An element's exact text (Selenium's .text drops the bidi marks and no-break spaces that
    CLDR puts in amounts)."""
    return driver.execute_script("return arguments[0].textContent.trim()", el)


def _choose(driver, method: str):
    _wait(
        driver,
        EC.element_to_be_clickable((By.CSS_SELECTOR, f'#pm-methods label[data-method="{method}"]')),
        f"the {method} tile",
    ).click()


def _type(driver, element_id: str, text: str):
    el = driver.find_element(By.ID, element_id)
    el.click()
    el.clear()
    el.send_keys(text)


def _fill_card(driver, number=TEST_CARD):
    _type(driver, "card-number", number)
    _type(driver, "card-name", "Test Account")
    _type(driver, "card-expiry", _expiry_digits())
    _type(driver, "card-cvv", "123")


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_a_card_flow_started_in_arabic_stays_arabic_and_a_decline_leads_back(browser, kassa, receiver, size):
    _size(browser, size)
    profile = _profile(kassa, receiver, ("card",))
    it = _intention(kassa, profile, ["card"], 25050)
    ar = _words(kassa, "ar", [25050])
    money = ar["money"]["25050"]

    browser.get(_checkout(kassa, profile, it, "ar"))
    _choose(browser, "card")
    _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card form")
    assert _text(browser, browser.find_element(By.ID, "pay-button")) == _t(ar, "common.pay_amount", amount=money)
    assert _text(browser, browser.find_element(By.ID, "pm-amount")) == money
    assert browser.find_element(By.ID, "card-number").get_attribute("dir") == "ltr"
    _check_page(browser, kassa, "pm-checkout", "ar", size, "pay-button")

    _fill_card(browser)
    browser.find_element(By.ID, "pay-button").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "challenge-form")), "the 3-D Secure page")
    assert _text(browser, browser.find_element(By.ID, "bank-title")) == _t(ar, "pm.challenge.heading_3ds")
    assert _text(browser, browser.find_element(By.ID, "amount")) == money
    _check_page(browser, kassa, "pm-3ds", "ar", size, "approve")

    # The bank refuses: the status page says so in Arabic, with the reason, and a way back.
    browser.find_element(By.ID, "fail").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "status-title")), "the status page")
    assert _text(browser, browser.find_element(By.ID, "status-title")) == _t(ar, "pm.result_declined")
    assert _text(browser, browser.find_element(By.ID, "status-message")) == _t(ar, "decline.authentication_failed")
    body = _text(browser, browser.find_element(By.TAG_NAME, "body"))
    assert money in body and "requires_" not in body and "declined" not in body, body
    retry = browser.find_element(By.ID, "status-retry")
    assert _text(browser, retry) == _t(ar, "pm.back_to_checkout")
    _check_page(browser, kassa, "pm-status-declined", "ar", size, "status-retry")

    retry.click()
    _choose(browser, "card")
    _assert_root(browser, "ar", "the checkout again")
    _fill_card(browser)
    browser.find_element(By.ID, "pay-button").click()
    _wait(browser, EC.element_to_be_clickable((By.ID, "approve")), "the 3-D Secure page again").click()
    _wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "status-title"), _t(ar, "pm.result_success")),
        "the Arabic success",
    )
    _assert_root(browser, "ar", "the status page")
    assert not browser.find_elements(By.ID, "status-retry")
    _assert_axe(browser, "pm-status-success")
    _assert_same_origin(browser, "pm-status-success", kassa.base)
    _shot(browser, f"pm-status-success-ar-{size[0]}x{size[1]}")
    _assert_no_console_errors(browser)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_a_wallet_flow_started_in_arabic_stays_arabic(browser, kassa, receiver, size):
    _size(browser, size)
    profile = _profile(kassa, receiver, ("wallet",))
    it = _intention(kassa, profile, ["wallet"], 4200)
    ar = _words(kassa, "ar", [4200])
    browser.get(_checkout(kassa, profile, it, "ar"))
    _choose(browser, "wallet")
    _type(browser, "wallet-phone", WALLET_PHONE)
    _check_page(browser, kassa, "pm-checkout-wallet", "ar", size, "pay-button")
    browser.find_element(By.ID, "pay-button").click()

    _wait(browser, EC.visibility_of_element_located((By.ID, "mpin")), "the wallet page")
    assert _text(browser, browser.find_element(By.ID, "bank-title")) == _t(ar, "pm.challenge.heading_wallet")
    assert _text(browser, browser.find_element(By.ID, "amount")) == ar["money"]["4200"]
    _check_page(browser, kassa, "pm-wallet", "ar", size, "approve")
    _type(browser, "mpin", WALLET_MPIN)
    _type(browser, "otp", WALLET_OTP)
    browser.find_element(By.ID, "approve").click()
    _wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "status-title"), _t(ar, "pm.result_success")),
        "the Arabic success",
    )
    _assert_root(browser, "ar", "the wallet's status page")
    _assert_same_origin(browser, "pm-status-wallet", kassa.base)
    _shot(browser, f"pm-status-wallet-ar-{size[0]}x{size[1]}")
    _assert_no_console_errors(browser)


@pytest.mark.parametrize("lang", ["fr", "de", "es", "tr"])
def test_each_added_language_shows_translated_text(browser, kassa, receiver, lang):
    size = SIZES[0]
    _size(browser, size)
    profile = _profile(kassa, receiver, ("card", "kiosk"))
    it = _intention(
        kassa, profile, ["card", "kiosk"], 123456, items=[{"name": "Mug", "amount": 123456, "quantity": 1}]
    )
    words = _words(kassa, lang, [123456])
    en = _words(kassa, "en", [123456])
    browser.get(_checkout(kassa, profile, it, lang))
    _choose(browser, "card")
    texts = {
        "legend": _text(browser, browser.find_element(By.CSS_SELECTOR, "#pm-form legend")),
        "label": _text(browser, browser.find_element(By.CSS_SELECTOR, 'label[for="card-number"]')),
        "pay": _text(browser, browser.find_element(By.ID, "pay-button")),
        "amount": _text(browser, browser.find_element(By.ID, "pm-amount")),
    }
    assert texts == {
        "legend": _t(words, "pm.choose_method"),
        "label": _t(words, "card.number"),
        "pay": _t(words, "common.pay_amount", amount=words["money"]["123456"]),
        "amount": words["money"]["123456"],
    }, texts
    assert texts["legend"] != _t(en, "pm.choose_method") and texts["amount"] != en["money"]["123456"]
    _check_page(browser, kassa, "pm-checkout", lang, size, "pay-button")
    # The card frame Pixel embeds, in the same language.
    browser.get(kassa.url(f"/iframe-card-v2/?publicKey={profile.public_key}&lang={lang}"))
    _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card frame")
    assert _text(browser, browser.find_element(By.CSS_SELECTOR, 'label[for="card-number"]')) == _t(words, "card.number")
    _check_page(browser, kassa, "pm-card-frame", lang, size)

    # The switcher: Arabic in place (what was typed stays), and back.
    browser.get(_checkout(kassa, profile, it, lang))
    _choose(browser, "card")
    _type(browser, "card-name", "Test Account")
    browser.execute_script("window.__samePage = true")
    browser.find_element(By.CSS_SELECTOR, 'a.lang-link[data-lang="ar"]').click()
    ar = _words(kassa, "ar", [123456])
    _wait(browser, lambda d: _root(d)["dir"] == "rtl", "the page to turn right to left")
    _wait(
        browser,
        lambda d: ar["money"]["123456"] in _text(d, d.find_element(By.ID, "pay-button")),
        "the Arabic amount",
    )
    assert browser.execute_script("return window.__samePage") is True, "the page reloaded"
    assert browser.find_element(By.ID, "card-name").get_attribute("value") == "Test Account"
    assert "lang=ar" in browser.current_url
    _assert_root(browser, "ar", "after switching")
    _assert_no_console_errors(browser)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_the_kiosk_reference_is_grouped_with_an_expiry_and_copies(browser, kassa, receiver, size):
    _size(browser, size)
    profile = _profile(kassa, receiver, ("card", "kiosk"))
    it = _intention(kassa, profile, ["card", "kiosk"], 6000)
    de = _words(kassa, "de", [6000])
    browser.get(_checkout(kassa, profile, it, "de"))
    _choose(browser, "kiosk")
    browser.find_element(By.ID, "pay-button").click()
    ref = _wait(browser, EC.visibility_of_element_located((By.ID, "bill-reference")), "the reference")
    digits = ref.text.replace(" ", "")
    assert len(digits) == 12 and digits.isdigit(), ref.text
    assert ref.text == " ".join(digits[i:i + 4] for i in range(0, 12, 4)), ref.text
    assert ref.get_attribute("dir") == "ltr"
    # On one line, inside its box's padding and the card, on a phone too.
    fit = browser.execute_script(
        "const r = document.getElementById('bill-reference'), c = document.getElementById('pm-card');"
        "const g = document.createRange(); g.selectNodeContents(r);"
        "const rects = [...g.getClientRects()], box = r.getBoundingClientRect(), cs = getComputedStyle(r);"
        "return {lines: new Set(rects.map(x => Math.round(x.top))).size,"
        " textLeft: Math.min(...rects.map(x => x.left)), textRight: Math.max(...rects.map(x => x.right)),"
        " left: box.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft),"
        " right: box.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight),"
        " boxRight: box.right, cardRight: c.getBoundingClientRect().right};"
    )
    assert fit["lines"] == 1, fit
    assert fit["textLeft"] >= fit["left"] - 0.5 and fit["textRight"] <= fit["right"] + 0.5, fit
    assert fit["boxRight"] <= fit["cardRight"] + 0.5, fit
    expiry = browser.find_element(By.ID, "bill-expiry")
    assert expiry.is_displayed() and _text(browser, expiry).startswith(_t(de, "common.pay_before", date="").strip()), expiry.text
    copy = browser.find_element(By.ID, "bill-copy")
    assert _text(browser, copy) == _t(de, "common.copy")
    _check_page(browser, kassa, "pm-kiosk", "de", size, "")

    # The clipboard API, allowed for Kassa's page: the digits land on the clipboard.
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": kassa.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    copy.click()
    _wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "bill-copy-status"), _t(de, "common.copied")),
        "Copied",
    )
    assert browser.find_element(By.ID, "bill-copy-status").get_attribute("aria-live") == "polite"
    pasted = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('error: ' + e));"
    )
    assert pasted == digits, pasted

    # Without it, the number is selected for the payer's own Copy, and the page says so.
    browser.execute_script("Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})")
    copy.click()
    _wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "bill-copy-status"), _t(de, "pm.ref_copy_hint")),
        "the copy hint",
    )
    assert browser.execute_script("return window.getSelection().toString()").replace(" ", "") == digits
    _assert_no_console_errors(browser)


def _png(width: int, height: int, rgb=(10, 102, 194)) -> bytes:
    """A one-colour PNG, written with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + bytes(rgb) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _brand(kassa, profile, name: str, accent: str, logo: bytes) -> str:
    """Sets the profile's display name, accent and logo; returns the logo's URL."""
    path = f"/v1/paymob/profiles/{profile.id}/branding"
    status, body = kassa.request("POST", path, {"display_name": name, "accent_color": accent})
    assert status == 200, body
    req = urllib.request.Request(
        kassa.url(path + "/logo"),
        data=logo,
        method="POST",
        headers={"Authorization": f"Bearer {kassa.secret_key}", "Content-Type": "image/png"},
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=15) as resp:
        assert resp.status == 200
        return json.loads(resp.read())["logo"]["url"]


def _assert_logo(driver, url: str, where: str):
    """The page shows the logo Kassa serves, and the browser actually loaded it."""
    logo = _wait(driver, EC.visibility_of_element_located((By.ID, "merchant-logo")), f"{where}: the logo")
    assert logo.get_attribute("src") == url, logo.get_attribute("src")
    _wait(
        driver,
        lambda d: d.execute_script("const i = arguments[0]; return i.complete && i.naturalWidth > 0", logo),
        f"{where}: the logo to load",
    )


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_a_profiles_branding_reaches_the_payer(browser, kassa, receiver, size):
    _size(browser, size)
    profile = _profile(kassa, receiver, ("card",))
    logo = _brand(kassa, profile, "Cairo Books", "#7a1fa2", _png(120, 48))
    it = _intention(kassa, profile, ["card"], 25050)
    browser.get(_checkout(kassa, profile, it, "en"))
    _choose(browser, "card")
    _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card form")
    assert _text(browser, browser.find_element(By.ID, "pm-merchant")) == "Cairo Books"
    assert browser.title.endswith("Cairo Books"), browser.title
    _assert_logo(browser, logo, "checkout")
    pay = browser.find_element(By.ID, "pay-button")
    background = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor", pay)
    assert background == "rgb(122, 31, 162)", background
    _check_page(browser, kassa, "pm-checkout-branded", "en", size, "pay-button")

    _fill_card(browser)
    pay.click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "challenge-form")), "the 3-D Secure page")
    assert _text(browser, browser.find_element(By.ID, "merchant")) == "Cairo Books"
    _assert_logo(browser, logo, "3-D Secure page")
    _check_page(browser, kassa, "pm-3ds-branded", "en", size, "approve")
    browser.find_element(By.ID, "approve").click()
    _wait(browser, EC.visibility_of_element_located((By.ID, "status-title")), "the status page")
    assert _text(browser, browser.find_element(By.ID, "status-merchant")) == "Cairo Books"
    _assert_logo(browser, logo, "status page")
    _check_page(browser, kassa, "pm-status-branded", "en", size)
    _assert_no_console_errors(browser)


PIXEL_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Boutique</title><link rel="icon" href="data:,"></head>
<body><h1>Panier</h1>
<div id="pixel-container"></div>
<script src="{kassa}/pixel/main.js"></script>
<script>
window.__pixelResult = null;
new Pixel({{
  publicKey: {public_key},
  clientSecret: {client_secret},
  paymentMethods: ["card"],
  elementId: "pixel-container",
  afterPaymentComplete: function (res) {{ window.__pixelResult = {{status: res.status, data: res.data}}; }}
}});
</script>
</body></html>
"""


def _shadow(driver, selector):
    host = driver.find_element(By.CSS_SELECTOR, "#pixel-container div.kassa-pixel")
    return host.shadow_root.find_element(By.CSS_SELECTOR, selector)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_pixel_says_a_decline_inline_even_with_after_payment_complete(browser, kassa, receiver, size):
    _size(browser, size)
    site = MerchantSite()
    try:
        profile = create_profile(kassa, receiver, ("card",), three_d_secure=False)
        set_frame_ancestors(kassa, profile, site.origin)
        it = _intention(kassa, profile, ["card"], 19900)
        fr = _words(kassa, "fr", [19900])
        page = site.serve(
            "/checkout",
            PIXEL_PAGE.format(
                lang="fr-FR",
                kassa=kassa.base,
                public_key=json.dumps(profile.public_key),
                client_secret=json.dumps(it["client_secret"]),
            ),
        )
        browser.get(page)
        _wait(browser, lambda d: _shadow(d, "button.kp-pay").text, "Pixel's Pay button")
        assert _text(browser, _shadow(browser, "button.kp-pay")) == _t(fr, "common.pay_amount", amount=fr["money"]["19900"])
        assert _shadow(browser, ".kp").get_attribute("lang") == "fr"
        frame = _shadow(browser, "iframe")
        assert "lang=fr" in frame.get_attribute("src")
        browser.switch_to.frame(frame)
        try:
            _wait(browser, EC.visibility_of_element_located((By.ID, "card-number")), "the card frame")
            _assert_root(browser, "fr", "Pixel's card frame")
            assert _text(browser, browser.find_element(By.CSS_SELECTOR, 'label[for="card-number"]')) == _t(fr, "card.number")
            _fill_card(browser, DECLINED_CARD)
        finally:
            browser.switch_to.default_content()
        _wait(browser, lambda d: _shadow(d, "button.kp-pay").is_enabled(), "Pay enabled")
        _shadow(browser, "button.kp-pay").click()

        result = _wait(browser, lambda d: d.execute_script("return window.__pixelResult"), "afterPaymentComplete")
        assert result["data"]["success"] == "false", result
        message = _shadow(browser, ".kp-msg")
        assert message.is_displayed() and "kp-msg-error" in message.get_attribute("class")
        assert _text(browser, message) == _t(fr, "decline.card_declined"), message.text
        assert browser.current_url == page
        _assert_axe(browser, "Pixel on the merchant's page")
        _assert_same_origin(browser, "Pixel on the merchant's page", kassa.base, site.origin)
        _shot(browser, f"pm-pixel-decline-fr-{size[0]}x{size[1]}")
        _assert_no_console_errors(browser)
    finally:
        site.stop()
