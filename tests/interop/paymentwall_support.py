"""Helpers for the Paymentwall-dialect interop tests (official SDKs against a real Kassa).

The merchant's side of a Paymentwall integration, driven over plain HTTP: create a project
through Kassa's native API, open a signed link (built by an SDK), pay on the payment page the
way its HTML form does, call the Cancellation API, move a test subscription's clock, and receive
pingbacks on a local server that checks every one with an SDK before answering ``OK``.

Nothing here computes a Paymentwall signature itself: links, ticket signatures and pingback
checks all come from the SDK under test, passed in as callables.
"""

from __future__ import annotations

import datetime
import html
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

# Every wait is bounded. Pingbacks go out within ~100 ms of the event (the test Kassa polls its
# outbox every 50 ms); this only stops a test that would otherwise hang.
PINGBACK_WAIT_S = 15.0
HTTP_TIMEOUT_S = 15.0
DAY = 86_400

# Paymentwall pingback types (reference §4.3).
PAYMENT, NEGATIVE, CANCELLED, EXPIRED, PAYMENT_FAILED = "0", "2", "12", "13", "14"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the tests look at every 303 themselves
        return None


# Direct connections only (conftest already keeps loopback out of any proxy), no redirects.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


@dataclass
class Response:
    status: int
    headers: Any
    text: str

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)


def http(method: str, url: str, form: Optional[dict] = None) -> Response:
    """One request, no redirects followed; any status is returned, not raised."""
    data = None if form is None else urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _opener.open(req, timeout=HTTP_TIMEOUT_S) as resp:
            return Response(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read().decode("utf-8", "replace"))


# ---------------------------------------------------------------------------------------------
# Projects, subscriptions and the test clock (Kassa's native API)
# ---------------------------------------------------------------------------------------------


@dataclass
class PwProject:
    id: str
    key: str
    secret: str
    api_type: str  # "digital_goods", "virtual_currency" or "cart"
    raw: dict


def create_project(
    kassa,
    api_type: str,
    pingback_url: str,
    *,
    sign_version: Optional[int] = None,
    frame_ancestors: Optional[str] = None,
    settings: Optional[dict] = None,
    name: str = "Game shop",
) -> PwProject:
    body: dict = {"name": name, "api_type": api_type, "pingback_url": pingback_url}
    if sign_version is not None:
        body["pingback_sign_version"] = sign_version
    if frame_ancestors is not None:
        body["frame_ancestors"] = frame_ancestors
    body["settings"] = {"risk_review_delay_seconds": 0, **(settings or {})}
    status, p = kassa.request("POST", "/v1/paymentwall/projects", body)
    assert status == 200, f"creating a Paymentwall project: HTTP {status}: {p}"
    for k in ("project_key", "secret_key"):
        v = p.get(k, "")
        assert len(v) == 32 and all(c in "0123456789abcdef" for c in v), p
    return PwProject(p["id"], p["project_key"], p["secret_key"], p["api_type"], p)


def subscriptions(kassa, project: PwProject) -> list:
    status, body = kassa.request("GET", f"/v1/paymentwall/projects/{project.id}/subscriptions")
    assert status == 200, f"listing subscriptions: HTTP {status}: {body}"
    return body["data"]


def subscription_of(kassa, project: PwProject, uid: str) -> dict:
    subs = [s for s in subscriptions(kassa, project) if s["uid"] == uid]
    assert len(subs) == 1, f"expected one subscription for {uid}: {subs}"
    return subs[0]


def advance_clock(kassa, sub_id: str, seconds: int) -> dict:
    """Moves a test subscription's clock and runs Kassa's scheduler once."""
    status, body = kassa.request(
        "POST", f"/v1/paymentwall/subscriptions/{sub_id}/advance_clock", {"seconds": seconds}
    )
    assert status == 200, f"advancing {sub_id} by {seconds} s: HTTP {status}: {body}"
    return body


# ---------------------------------------------------------------------------------------------
# The customer's side: the signed link and the payment page
# ---------------------------------------------------------------------------------------------


def card_fields(number: str = "4242 4242 4242 4242", cvc: str = "123") -> dict:
    year = (datetime.date.today().year + 3) % 100
    return {"number": number, "exp": f"12/{year:02d}", "cvc": cvc, "name": "Jo Doe"}


def open_link(url: str) -> str:
    """GETs a signed link; it must answer 303 to the order page, whose absolute URL is returned."""
    r = http("GET", url)
    assert r.status == 303, f"the signed link was refused: HTTP {r.status}\nGET {url}\n{r.text[:2000]}"
    location = r.header("Location") or ""
    assert "/pw/orders/" in location, f"unexpected redirect {location!r} for {url}"
    return urllib.parse.urljoin(url, location)


class _PageParser(HTMLParser):
    """The parts of a payment page the tests use: #pay-form's action and inputs, element ids,
    and the #continue link."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set = set()
        self.form_action: Optional[str] = None
        self.hidden: dict = {}
        self.continue_href: Optional[str] = None
        self.root: dict = {}
        self._in_pay_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("id") == "pw":
            self.root = a
        if tag == "form" and a.get("id") == "pay-form":
            self._in_pay_form = True
            self.form_action = a.get("action")
        elif tag == "input" and self._in_pay_form and a.get("type") == "hidden":
            self.hidden[a.get("name")] = a.get("value") or ""
        elif tag == "a" and a.get("id") == "continue":
            self.continue_href = a.get("href")

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_pay_form = False


@dataclass
class Page:
    url: str
    status: int
    text: str
    parsed: _PageParser

    @property
    def state(self) -> str:
        return self.parsed.root.get("data-state", "")

    @property
    def payment(self) -> Optional[dict]:
        raw = self.parsed.root.get("data-payment") or ""
        return json.loads(raw) if raw else None


def page(url: str) -> Page:
    r = http("GET", url)
    parser = _PageParser()
    parser.feed(r.text)
    return Page(url, r.status, r.text, parser)


def pay(order_url: str, fields: dict, ps: Optional[str] = None) -> Page:
    """Submits the order page's #pay-form (with `?ps=` when the link did not choose a method)
    with `fields`, follows the 303 and returns the page it lands on."""
    shown = page(order_url if ps is None else f"{order_url}?ps={urllib.parse.quote(ps)}")
    assert shown.status == 200, f"GET {shown.url}: HTTP {shown.status}\n{shown.text[:2000]}"
    assert shown.parsed.form_action, f"no #pay-form on {shown.url}:\n{shown.text[:3000]}"
    for name in ("token", "nonce", "ps"):
        assert name in shown.parsed.hidden, f"#pay-form lacks {name}: {shown.parsed.hidden}"
    action = urllib.parse.urljoin(order_url, shown.parsed.form_action)
    r = http("POST", action, {**shown.parsed.hidden, **fields})
    assert r.status == 303, f"POST {action}: HTTP {r.status}\n{r.text[:2000]}"
    return page(urllib.parse.urljoin(action, r.header("Location") or ""))


def assert_paid(result: Page) -> dict:
    """The "Thank you" page; returns the payment object the page carries."""
    assert result.status == 200 and result.state == "success", (
        f"not the success page: HTTP {result.status}, state {result.state!r}\n{result.text[:3000]}"
    )
    assert "Thank you" in result.text
    payment = result.payment
    assert payment and payment.get("object") == "payment", payment
    return payment


def continue_link(result: Page) -> Optional[str]:
    href = result.parsed.continue_href
    return html.unescape(href) if href else None


# ---------------------------------------------------------------------------------------------
# The Cancellation API (refunds and subscription cancellation)
# ---------------------------------------------------------------------------------------------


def ticket(kassa, params: dict, sign: Callable[[dict], str]) -> Response:
    """POSTs /developers/api/ticket with `params` plus `sign` computed by the SDK's widget
    signature (`sign(params)` sees every parameter except `sign`)."""
    form = dict(params)
    form["sign"] = sign(dict(form))
    return http("POST", kassa.url("/developers/api/ticket"), form)


def ticket_ok(r: Response) -> None:
    assert r.status == 200, f"Cancellation API: HTTP {r.status}: {r.text[:1000]}"
    assert json.loads(r.text).get("result") == 1, r.text


# ---------------------------------------------------------------------------------------------
# The merchant's pingback endpoint
# ---------------------------------------------------------------------------------------------


@dataclass
class Pingback:
    """One pingback as it arrived, and what the SDK said about it."""

    path: str  # the receiver path it was sent to ("/pb/<name>")
    query: str  # the raw query string, byte for byte
    params: dict  # parsed: name -> value (blank values kept)
    client_ip: str
    valid: bool
    detail: str  # the validator's errors, when invalid
    answered: str  # the body sent back ("OK" only when valid)

    @property
    def type(self) -> str:
        return self.params.get("type", "")

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)


Validator = Callable[[str, dict, str], "tuple[bool, str]"]


@dataclass
class PingbackServer:
    """Answers GET /pb/<name>?… with `OK` when the validator registered for <name> accepts the
    pingback, else 403; records every request either way."""

    base: str = ""
    validators: dict = field(default_factory=dict)
    received: list = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def url(self, name: str) -> str:
        """The pingback URL for <name>; requests to it get 404 until `check_with` is called."""
        return f"{self.base}/pb/{name}"

    def check_with(self, name: str, validator: Validator) -> None:
        """Registers `validator(query, params, client_ip) -> (valid, detail)` for <name>."""
        self.validators[name] = validator

    def all(self, name: Optional[str] = None) -> list:
        with self.cond:
            return [p for p in self.received if name is None or p.path == f"/pb/{name}"]

    def wait_for(self, predicate: Callable[[list], Any], what: str, name: Optional[str] = None,
                 timeout: float = PINGBACK_WAIT_S) -> list:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [p for p in self.received if name is None or p.path == f"/pb/{name}"]
                if predicate(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(p.path, p.query, p.valid, p.detail) for p in got]
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {seen}")
                self.cond.wait(left)

    def wait_for_type(self, type_: str, name: Optional[str] = None, count: int = 1, **match) -> list:
        """Waits for `count` pingbacks of `type_` whose params contain `match`; returns them."""

        def hits(got):
            return [
                p for p in got
                if p.type == type_ and all(p.params.get(k) == v for k, v in match.items())
            ]

        what = f"{count} pingback(s) of type {type_}" + (f" with {match}" if match else "")
        return hits(self.wait_for(lambda got: len(hits(got)) >= count, what, name))

    def assert_all_valid(self, name: Optional[str] = None) -> list:
        got = self.all(name)
        bad = [(p.query, p.detail, p.answered) for p in got if not p.valid]
        assert not bad, f"pingbacks the SDK rejected (Kassa bug?): {bad}"
        return got

    def assert_quiet(self, count: int, name: Optional[str] = None, settle: float = 0.3) -> None:
        """No further pingback arrives within `settle` seconds."""
        time.sleep(settle)
        got = self.all(name)
        assert len(got) == count, f"expected {count} pingbacks, got {[p.query for p in got]}"


def _pingback_handler(server: PingbackServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            name = url.path[len("/pb/"):] if url.path.startswith("/pb/") else None
            validator = server.validators.get(name) if name else None
            if validator is None:
                self.send_error(404)
                return
            try:
                params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True, strict_parsing=True))
            except ValueError as e:
                params = {}
                valid, detail = False, f"unparsable query: {e}"
            else:
                try:
                    valid, detail = validator(url.query, dict(params), self.client_address[0])
                except Exception as e:  # reported through the test, never a hung sender
                    valid, detail = False, f"validator raised {e!r}"
            answer = "OK" if valid else "invalid pingback"
            with server.cond:
                server.received.append(
                    Pingback(url.path, url.query, params, self.client_address[0], valid, detail, answer)
                )
                server.cond.notify_all()
            body = answer.encode()
            self.send_response(200 if valid else 403)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def start_pingback_server() -> tuple:
    """Returns (PingbackServer, stop function)."""
    srv = PingbackServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _pingback_handler(srv))
    httpd.daemon_threads = True
    srv.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return srv, stop
