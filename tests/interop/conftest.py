"""Fixtures for Kassa's interop and real-browser tests.

Every test gets its own Kassa process (the real binary, from ``KASSA_BIN``) on a free loopback
port with a fresh database: a SQLite file in a temporary directory, or a new PostgreSQL database
on the server named by ``KASSA_TEST_POSTGRES_URL`` (the PostgreSQL variant is skipped when that
is unset). A local HTTP receiver records webhook deliveries and serves the merchant's return page.

All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = "interop-test-master-key-0123456789abcdef"
# Startup, readiness and shutdown waits; every wait in this suite is bounded.
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0

# Requests to the loopback servers must never go through a proxy from the environment
# (urllib, Selenium's client and Kassa's own webhook client all read these variables).
for _var in ("NO_PROXY", "no_proxy"):
    _have = os.environ.get(_var, "")
    os.environ[_var] = ",".join(filter(None, [_have, "127.0.0.1", "localhost"]))
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

# No proxy handler: plain direct connections.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def kassa_bin() -> Path:
    configured = os.environ.get("KASSA_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "kassa"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05):
    """Polls `predicate` until it returns something truthy (which is returned) or fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------


def postgres_admin_url() -> Optional[str]:
    url = os.environ.get("KASSA_TEST_POSTGRES_URL", "").strip()
    return url or None


def _psql(admin_url: str, sql: str) -> None:
    if shutil.which("psql") is None:
        pytest.fail("KASSA_TEST_POSTGRES_URL is set but the psql client is not installed")
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    done = subprocess.run(
        ["psql", admin_url, "-w", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed: {done.stderr.strip()}")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A fresh, empty database URL of each kind; removed afterwards."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/kassa.db"
        return
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("KASSA_TEST_POSTGRES_URL is not set: skipping the PostgreSQL variant")
    name = f"kassa_py_{secrets.token_hex(6)}"
    _psql(admin, f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlsplit(admin)._replace(path=f"/{name}").geturl()
    finally:
        _psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ---------------------------------------------------------------------------------------------
# The Kassa server
# ---------------------------------------------------------------------------------------------


@dataclass
class Kassa:
    base: str
    secret_key: str
    publishable_key: str
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    def url(self, path: str) -> str:
        return self.base + path

    def request(self, method: str, path: str, body: Optional[dict] = None, key: Optional[str] = None):
        """Calls the native API; returns (HTTP status, parsed JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data, method=method)
        req.add_header("Authorization", f"Bearer {key or self.secret_key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with _opener.open(req, timeout=15) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def create_intent(self, return_url: str, amount: int = 1000, currency: str = "usd") -> dict:
        status, pi = self.request(
            "POST",
            "/v1/payment_intents",
            {"amount": amount, "currency": currency, "return_url": return_url},
        )
        assert status in (200, 201), f"creating an intent: HTTP {status}: {pi}"
        assert pi["id"].startswith("pi_") and pi["checkout_url"].startswith(self.base + "/checkout/cs_"), pi
        return pi

    def intent(self, intent_id: str) -> dict:
        status, pi = self.request("GET", f"/v1/payment_intents/{intent_id}")
        assert status == 200, f"reading {intent_id}: HTTP {status}: {pi}"
        return pi

    def confirm(self, intent_id: str, payment_method: str):
        return self.request(
            "POST", f"/v1/payment_intents/{intent_id}/confirm", {"payment_method": payment_method}
        )

    def logs(self) -> str:
        out = []
        for p in (self.stdout_path, self.stderr_path):
            try:
                out.append(f"--- kassa {p.name} ---\n" + p.read_text(errors="replace")[-8000:])
            except OSError:
                pass
        return "\n".join(out)


def _start_kassa(database_url: str, workdir: Path) -> Kassa:
    binary = kassa_bin()
    if not binary.is_file():
        pytest.fail(f"Kassa binary not found at {binary} (set KASSA_BIN or run `cargo build -p kassa`)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_") and k not in _PROXY_VARS}
    env.update(
        KASSA_MASTER_KEY=MASTER_KEY,
        KASSA_WEBHOOK_POLL_INTERVAL_MS="50",
        RUST_LOG="warn",
    )
    stdout_path = workdir / "kassa.stdout"
    stderr_path = workdir / "kassa.stderr"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        # Port 0: the kernel picks a free port and Kassa prints the one it bound, so there is no
        # window in which another process could take it.
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", "127.0.0.1:0", "--database-url", database_url],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=workdir,
        )
    kassa = Kassa("", "", "", proc, stdout_path, stderr_path)

    def banner():
        if proc.poll() is not None:
            raise AssertionError(f"kassa exited early with {proc.returncode}\n{kassa.logs()}")
        text = stdout_path.read_text(errors="replace")
        return text if re.search(r"^API reference", text, re.M) else None

    try:
        text = wait_until(banner, START_TIMEOUT_S, "Kassa's startup banner")
        listen = re.search(r"Kassa is listening on (http://127\.0\.0\.1:\d+)", text)
        sk = re.search(r"^\s*secret key:\s+(sk_test_\S+)", text, re.M)
        pk = re.search(r"^\s*publishable key:\s+(pk_test_\S+)", text, re.M)
        assert listen and sk and pk, f"unexpected startup banner:\n{text}"
        kassa.base, kassa.secret_key, kassa.publishable_key = listen[1], sk[1], pk[1]

        def ready():
            try:
                with _opener.open(kassa.url("/readyz"), timeout=2) as resp:
                    return resp.status == 200
            except (urllib.error.URLError, OSError):
                return False

        wait_until(ready, START_TIMEOUT_S, "GET /readyz to answer 200")
    except BaseException:
        _stop_kassa(kassa)
        raise
    return kassa


def _stop_kassa(kassa: Kassa) -> Optional[int]:
    """SIGTERM, then wait; returns the exit code (None when it had to be killed)."""
    proc = kassa.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
            return None
    return proc.returncode


@pytest.fixture
def kassa(database_url, tmp_path):
    """A running Kassa on a fresh database; stopped with SIGTERM afterwards."""
    workdir = tmp_path / "kassa"
    workdir.mkdir()
    server = _start_kassa(database_url, workdir)
    try:
        yield server
    finally:
        code = _stop_kassa(server)
        # Shown by pytest only when the test failed.
        print(server.logs())
    assert code == 0, f"kassa did not shut down cleanly on SIGTERM (exit {code})\n{server.logs()}"


# ---------------------------------------------------------------------------------------------
# The merchant's side: webhook receiver and return page
# ---------------------------------------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    headers: dict
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str, default: str = "") -> str:
        """A header by case-insensitive name (the raw `headers` keep the sender's casing)."""
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return default


@dataclass
class Receiver:
    base: str
    deliveries: list = field(default_factory=list)
    pages: list = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        return self.base + path

    def snapshot(self) -> list:
        with self.cond:
            return list(self.deliveries)

    def wait_for(self, predicate: Callable[[list], bool], timeout: float, what: str) -> list:
        """Waits until `predicate(deliveries so far)` holds; returns those deliveries."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(list(self.deliveries)):
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [d.body[:200] for d in self.deliveries]
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {got}")
                self.cond.wait(left)
            return list(self.deliveries)


DONE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order complete</title>
<link rel="icon" href="data:,"></head>
<body><h1>Thanks for your order</h1><p id="done">{query}</p></body></html>
"""


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            delivery = Delivery(
                path=self.path,
                headers={k: v for k, v in self.headers.items()},
                body=body,
                received_at=time.time(),
            )
            with receiver.cond:
                receiver.deliveries.append(delivery)
                receiver.cond.notify_all()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            with receiver.cond:
                receiver.pages.append(self.path)
                receiver.cond.notify_all()
            if url.path != "/done":
                self.send_error(404)
                return
            page = DONE_PAGE.format(query=html.escape(url.query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

    return Handler


def start_receiver():
    """A merchant server on a free loopback port (records POSTs, serves /done); returns it and
    the function that stops it."""
    rec = Receiver(base="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return rec, stop


@pytest.fixture
def receiver():
    """A merchant server on a free loopback port: records POSTs (webhooks), serves /done."""
    rec, stop = start_receiver()
    try:
        yield rec
    finally:
        stop()


# ---------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (360, 740)


def _browser_missing() -> Optional[str]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (
            f"{' and '.join(missing)} not found: install Debian's `chromium chromium-driver` "
            "packages to run the real-browser tests"
        )
    return None


def new_browser(workdir: Path, window: tuple = WINDOW):
    """Headless Debian Chromium driven through chromedriver, with a fresh profile in `workdir`
    and a real `window`-sized layout viewport."""
    # Selenium must use the system driver and browser and never fetch anything itself.
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = workdir / "chromium-profile"
    profile.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={window[0]},{window[1]}",
        f"--user-data-dir={profile}",
        "--no-proxy-server",
        "--disable-dev-shm-usage",
        "--password-store=basic",
    ):
        options.add_argument(arg)
    # Console errors (CSP violations, script errors, failed loads) are read back by the tests.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    # Headless Chromium keeps windows at least 500 px wide whatever --window-size says; resizing
    # the window and pinning the viewport's metrics gives a real 360 px wide layout viewport.
    driver.set_window_size(*window)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False},
    )
    driver.set_page_load_timeout(15)
    driver.set_script_timeout(15)
    return driver


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium driven through chromedriver, with a fresh profile."""
    reason = _browser_missing()
    if reason:
        if os.environ.get("KASSA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"KASSA_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    driver = new_browser(tmp_path)
    try:
        yield driver
    finally:
        driver.quit()


# ---------------------------------------------------------------------------------------------
# Paymentwall dialect: the merchant's pingback endpoint
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pingbacks():
    """A merchant pingback endpoint on a free loopback port (`paymentwall_support.PingbackServer`):
    GET /pb/<name> answers `OK` only when the validator registered for <name> (an SDK's
    pingback check) accepts the pingback; every request is recorded."""
    from paymentwall_support import start_pingback_server

    server, stop = start_pingback_server()
    try:
        yield server
    finally:
        stop()
