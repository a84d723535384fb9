"""The hosted checkout in a real browser: headless Debian Chromium driven by Selenium.

The page is used as a person would: typing into the fields (so the page's own script formats
them), pressing Enter or clicking Pay, following redirects and the bank's 3-D Secure page, with
the CSRF cookie and the strict CSP in force. Each test ends on the merchant's return page and
checks the outcome through the API.
"""

from __future__ import annotations

import datetime
import urllib.parse

import pytest

from conftest import REPO_ROOT, WINDOW

pytest.importorskip("selenium")
from selenium.common.exceptions import (  # noqa: E402
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 15  # every wait is bounded; the success page redirects after ~2 s
SCREENSHOT = REPO_ROOT / "target" / "checkout-360.png"


def _expiry() -> str:
    """A valid future expiry, typed as digits only ("MMYY"): the page adds the " / "."""
    return f"12{(datetime.date.today().year + 3) % 100:02d}"


def _wait(driver, condition, what: str):
    try:
        return WebDriverWait(
            driver,
            WAIT_S,
            poll_frequency=0.1,
            # A page may navigate away between two looks at it.
            ignored_exceptions=(
                NoSuchElementException,
                StaleElementReferenceException,
                JavascriptException,
            ),
        ).until(condition)
    except TimeoutException:
        try:
            page = driver.find_element(By.TAG_NAME, "body").text[:2000]
        except Exception as e:  # only for the message
            page = f"(page unreadable: {e})"
        raise AssertionError(
            f"timed out after {WAIT_S} s waiting for {what}; at {driver.current_url}\n{page}"
        ) from None


def _open_checkout(driver, pi: dict):
    driver.get(pi["checkout_url"])
    _wait(driver, EC.visibility_of_element_located((By.ID, "payment-form")), "the card form")
    status = driver.find_element(By.ID, "status")
    # The machine state is an attribute; the payer reads a label.
    assert status.get_attribute("data-status") == "requires_payment_method"
    assert status.text == "Waiting for payment", status.text


def _fill_card(driver, number: str, name: str = "Ada Lovelace"):
    """Types the card the way a person would, one field after the other."""
    # Digits only: the page's script must group them ("4242 4242 …") as they are typed.
    fields = {"number": number.replace(" ", ""), "exp": _expiry(), "cvc": "123", "name": name}
    for field_id, text in fields.items():
        el = driver.find_element(By.ID, field_id)
        el.click()
        el.clear()
        el.send_keys(text)
    # The page's script groups the digits and formats the expiry as the user types.
    assert driver.find_element(By.ID, "number").get_attribute("value") == number
    exp = driver.find_element(By.ID, "exp").get_attribute("value")
    assert exp == f"{_expiry()[:2]} / {_expiry()[2:]}", exp


def _submit_with_enter(driver):
    driver.find_element(By.ID, "name").send_keys(Keys.ENTER)


def _submit_with_click(driver):
    pay = driver.find_element(By.ID, "pay")
    assert pay.text.startswith("Pay "), pay.text
    pay.click()


# Read in one script run, so a page that navigates away cannot be half-read.
SUCCESS_PAGE_JS = """
const status = document.getElementById("status");
if (!status) return null;
const ret = document.getElementById("return");
return {
  status: status.getAttribute("data-status"),
  href: ret ? ret.href : null,
  noScroll: document.documentElement.scrollWidth <= window.innerWidth,
};
"""


def _expect_return_page(driver, kassa, receiver, pi: dict):
    """Success page (status `succeeded`, a return link), then the auto-redirect to return_url."""

    def success_page(d):
        if not d.current_url.startswith(kassa.base + "/checkout/"):
            return None
        state = d.execute_script(SUCCESS_PAGE_JS)
        return state if state and state["status"] == "succeeded" else None

    # The page waits ~2 s before redirecting, so it cannot be missed at this polling rate.
    state = _wait(driver, success_page, "the success page (#status `succeeded`)")
    link = urllib.parse.urlsplit(state["href"] or "")
    assert f"{link.scheme}://{link.netloc}{link.path}" == receiver.url("/done"), state
    assert urllib.parse.parse_qs(link.query) == {
        "payment_intent": [pi["id"]],
        "redirect_status": ["succeeded"],
    }, state
    assert state["noScroll"], "the success page scrolls sideways at 360 px"

    _wait(driver, EC.url_contains(receiver.url("/done?")), "the redirect to the return_url")
    url = urllib.parse.urlsplit(driver.current_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == receiver.url("/done")
    assert urllib.parse.parse_qs(url.query, strict_parsing=True) == {
        "payment_intent": [pi["id"]],
        "redirect_status": ["succeeded"],
    }, driver.current_url
    done = driver.find_element(By.ID, "done").text
    assert f"payment_intent={pi['id']}" in done and "redirect_status=succeeded" in done, done
    assert kassa.intent(pi["id"])["status"] == "succeeded"
    _assert_no_console_errors(driver)


def _assert_no_console_errors(driver):
    """No page so far logged an error: a CSP violation, a script error or a failed load."""
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, f"the browser console has errors: {errors}"


def _has_no_horizontal_scroll(driver) -> bool:
    return driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )


def test_pay_with_4242(browser, kassa, receiver):
    pi = kassa.create_intent(receiver.url("/done"))
    _open_checkout(browser, pi)
    _fill_card(browser, "4242 4242 4242 4242")
    _submit_with_enter(browser)
    _expect_return_page(browser, kassa, receiver, pi)


def test_3d_secure_approve(browser, kassa, receiver):
    pi = kassa.create_intent(receiver.url("/done"), amount=4200)
    _open_checkout(browser, pi)
    _fill_card(browser, "4000 0025 0000 3155")
    _submit_with_click(browser)
    _wait(browser, EC.url_contains("/sandbox/3ds/pa_"), "the bank's 3-D Secure page")
    assert urllib.parse.urlsplit(browser.current_url).netloc == urllib.parse.urlsplit(kassa.base).netloc
    approve = _wait(browser, EC.element_to_be_clickable((By.ID, "approve")), "the #approve button")
    assert browser.find_element(By.ID, "fail").is_displayed()
    assert _has_no_horizontal_scroll(browser), "the bank page scrolls sideways at 360 px"
    assert kassa.intent(pi["id"])["status"] == "requires_action"
    approve.click()
    _expect_return_page(browser, kassa, receiver, pi)


def test_decline_then_pay_on_the_same_page(browser, kassa, receiver):
    pi = kassa.create_intent(receiver.url("/done"))
    _open_checkout(browser, pi)
    _fill_card(browser, "4000 0000 0000 0002")
    _submit_with_click(browser)
    error = _wait(browser, EC.visibility_of_element_located((By.ID, "error")), "the decline message")
    assert "declined" in error.text.lower(), error.text
    assert browser.current_url == pi["checkout_url"]
    assert kassa.intent(pi["id"])["status"] == "requires_payment_method"
    # The same page offers the form again; a good card goes through.
    _fill_card(browser, "4242 4242 4242 4242")
    _submit_with_enter(browser)
    _expect_return_page(browser, kassa, receiver, pi)


def test_no_horizontal_scroll_at_360_px(browser, kassa, receiver):
    pi = kassa.create_intent(receiver.url("/done"))
    _open_checkout(browser, pi)
    width = browser.execute_script("return window.innerWidth")
    assert width == WINDOW[0], f"the viewport is {width} px wide, expected {WINDOW[0]}"
    # Also with the test-card list open and field errors shown: the widest the form gets.
    browser.find_element(By.CSS_SELECTOR, "details.test-cards summary").click()
    browser.find_element(By.ID, "number").send_keys("4242 4242 4242 4241")
    browser.find_element(By.ID, "pay").click()
    _wait(browser, lambda d: d.find_element(By.ID, "number-error").text, "the card number error")
    assert _has_no_horizontal_scroll(browser), (
        "the card form scrolls sideways at 360 px: scrollWidth "
        f"{browser.execute_script('return document.documentElement.scrollWidth')} > {width}"
    )
    # Nothing was sent: the page's script stopped the bad form.
    assert kassa.intent(pi["id"])["status"] == "requires_payment_method"

    # For humans: what the form looks like on a small phone.
    _open_checkout(browser, pi)
    _fill_card(browser, "4242 4242 4242 4242")
    assert _has_no_horizontal_scroll(browser)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT)), "could not save the screenshot"
    _assert_no_console_errors(browser)
