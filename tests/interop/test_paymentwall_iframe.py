"""The Paymentwall payment page inside a merchant's <iframe>, in headless Debian Chromium.

The merchant's page is served from another origin (`http://localhost:<port>`, while Kassa is
on `http://127.0.0.1:<port>`) and frames a link signed by the official Python SDK. A customer
pays inside the frame; the page's client-side callbacks (reference §7) must reach the parent
as JSON strings: `widgetLoaded`, then `paymentSuccess` carrying the payment object. A project
whose `frame_ancestors` names another origin must be refused by the browser.
"""

from __future__ import annotations

import html
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paymentwall_support import PAYMENT, card_fields, create_project

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
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 15

MERCHANT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Merchant shop</title>
<link rel="icon" href="data:,"></head>
<body><h1>Buy Gold Membership</h1>
<script>
window.events = [];
window.origins = [];
window.frameLoads = 0;
window.addEventListener("message", function (e) {{
  var v;
  try {{ v = JSON.parse(e.data); }} catch (err) {{ v = {{unparsed: String(e.data)}}; }}
  window.events.push(v);
  window.origins.push(e.origin);
}});
</script>
<iframe id="paymentwall" src="{src}" width="340" height="640" style="border:0"
        onload="window.frameLoads++"></iframe>
</body></html>
"""


class MerchantSite:
    """Serves one page per path, on 127.0.0.1 but addressed as http://localhost:<port>."""

    def __init__(self):
        self.pages: dict = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = site.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def page_framing(self, path: str, src: str) -> str:
        self.pages[path] = MERCHANT_PAGE.format(src=html.escape(src, quote=True))
        return self.origin + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def merchant_site():
    site = MerchantSite()
    try:
        yield site
    finally:
        site.stop()


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
            events = driver.execute_script("return window.events || null")
        except Exception as e:  # only for the message
            events = f"(unreadable: {e})"
        raise AssertionError(
            f"timed out after {WAIT_S} s waiting for {what}; at {driver.current_url}; events {events}"
        ) from None


def _events(driver) -> list:
    return driver.execute_script("return window.events")


def _has_event(name: str):
    return lambda d: next((e for e in _events(d) if e.get("event") == name), None)


def signed_link(kassa, project, uid: str) -> str:
    Paymentwall.set_api_type(Paymentwall.API_GOODS)
    Paymentwall.set_app_key(project.key)
    Paymentwall.set_secret_key(project.secret)
    product = Product("product301", 9.99, "USD", "Gold Membership")
    return Widget(uid, "p1_1", [product], {"ps": "cc", "success_url": "https://merchant.example/ok"}).get_url()


def test_pay_inside_a_cross_origin_iframe(browser, kassa, pingbacks, merchant_site, monkeypatch):
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    assert not merchant_site.origin.startswith(kassa.base)
    project = create_project(
        kassa, "digital_goods", pingbacks.url("iframe"), frame_ancestors=merchant_site.origin
    )
    pingbacks.check_with("iframe", lambda query, params, ip: (True, ""))
    link = signed_link(kassa, project, "user-iframe")
    browser.get(merchant_site.page_framing("/shop", link))

    loaded = _wait(browser, _has_event("widgetLoaded"), "widgetLoaded from the framed page")
    assert loaded == {"event": "widgetLoaded"}, loaded

    browser.switch_to.frame(browser.find_element(By.ID, "paymentwall"))
    try:
        _wait(browser, lambda d: d.find_element(By.ID, "pay-form"), "the card form inside the frame")
        assert "$9.99" in browser.find_element(By.ID, "amount").text
        for field_id, text in card_fields("4242 4242 4242 4242").items():
            el = browser.find_element(By.ID, field_id)
            el.clear()
            el.send_keys(text)
        browser.find_element(By.ID, "pay").click()
        _wait(browser, lambda d: d.find_element(By.ID, "thank-you"), "the thank-you page inside the frame")
    finally:
        browser.switch_to.default_content()

    success = _wait(browser, _has_event("paymentSuccess"), "paymentSuccess in the parent")
    payment = success.get("data") or {}
    assert payment.get("object") == "payment", success
    assert (payment.get("amount"), payment.get("currency")) == ("9.99", "USD"), payment
    assert (payment.get("uid"), payment.get("product_id")) == ("user-iframe", "product301"), payment
    ref = payment.get("id") or ""
    assert ref.startswith("b"), payment
    # The same ref as the pingback and as Kassa's own record of the payment.
    (pb,) = pingbacks.wait_for_type(PAYMENT, "iframe")
    assert pb.get("ref") == ref, (pb, payment)
    status, record = kassa.request("GET", f"/v1/paymentwall/projects/{project.id}/payments/{ref}")
    assert status == 200 and record["payment"]["id"] == ref, (status, record)

    names = [e.get("event") for e in _events(browser)]
    assert names.index("widgetLoaded") < names.index("paymentProcessingStart") < names.index("paymentSuccess"), names
    # Every message came from Kassa's origin; the browser stayed on the merchant's page.
    origins = browser.execute_script("return window.origins")
    assert set(origins) == {kassa.base}, origins
    assert browser.current_url.startswith(merchant_site.origin), browser.current_url
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, f"the browser console has errors: {errors}"


def test_frame_ancestors_of_another_origin_is_refused(browser, kassa, pingbacks, merchant_site, monkeypatch):
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    other = "http://127.0.0.1:9"
    project = create_project(kassa, "digital_goods", pingbacks.url("iframe"), frame_ancestors=other)
    link = signed_link(kassa, project, "user-refused")
    browser.get(merchant_site.page_framing("/shop", link))

    _wait(browser, lambda d: d.execute_script("return window.frameLoads") >= 1, "the iframe's load event")
    logs: list = []

    def refused(d):
        logs.extend(d.get_log("browser"))
        return any("frame-ancestors" in (e.get("message") or "") for e in logs)

    _wait(browser, refused, "Chromium's frame-ancestors refusal in the console")
    # The refused page never ran: nothing was posted to the merchant's page.
    time.sleep(0.3)
    assert _events(browser) == [], _events(browser)
    message = next(e["message"] for e in logs if "frame-ancestors" in (e.get("message") or ""))
    assert other in message, message
