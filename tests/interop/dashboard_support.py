"""Helpers for the merchant dashboard's browser test (test_dashboard.py).

The operator's side (`kassa user create`, run against the test server's own database and
address, the way an operator runs it next to `kassa serve`), the authenticator app (pyotp over
the text secret the security page shows), the checks every dashboard page passes (axe-core, no
request outside Kassa's origin, no console error), and forms posted outside the browser with a
browser's session cookie (the forged requests the CSRF and role checks must refuse).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.parse
from typing import Optional

from conftest import _PROXY_VARS, MASTER_KEY, kassa_bin
from paymob_support import Response, http
from test_lang_paymob import _assert_same_origin
from test_payer_forms import _assert_axe

CLI_TIMEOUT_S = 60
TOTP_STEP_S = 30
# The plain-http session cookie (`__Host-kassa_dash` only over https).
SESSION_COOKIE = "kassa_dash"


# ---------------------------------------------------------------------------------------------
# The operator
# ---------------------------------------------------------------------------------------------


def demo_merchant(kassa) -> str:
    """The demo merchant's id (`acct_…`), from the banner `kassa serve` printed at start."""
    text = kassa.stdout_path.read_text(errors="replace")
    m = re.search(r"^Demo merchant: .* \((acct_\w+)\)$", text, re.M)
    assert m, f"no demo merchant in Kassa's banner:\n{text}"
    return m[1]


def create_user(kassa, database_url: str, email: str, role: str) -> dict:
    """`kassa user create --json` for the demo merchant, with the server's own database and
    listen address (so the printed link points at it); returns the printed JSON."""
    listen = urllib.parse.urlsplit(kassa.base).netloc
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_") and k not in _PROXY_VARS}
    env.update(KASSA_MASTER_KEY=MASTER_KEY, RUST_LOG="warn")
    args = [
        str(kassa_bin()), "user", "create",
        "--merchant", demo_merchant(kassa), "--email", email, "--role", role, "--json",
        "--listen", listen, "--database-url", database_url,
    ]
    done = subprocess.run(
        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env,
        cwd=kassa.stdout_path.parent,
    )
    assert done.returncode == 0, f"kassa user create failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    user = json.loads(done.stdout)
    assert (user["email"], user["role"]) == (email, role), user
    assert user["id"].startswith("usr_") and user["merchant"] == demo_merchant(kassa), user
    assert user["setup_link"].startswith(kassa.url("/dashboard/setup/")), user
    return user


# ---------------------------------------------------------------------------------------------
# The authenticator app
# ---------------------------------------------------------------------------------------------


class Authenticator:
    """An authenticator app holding the secret the security page showed. Kassa accepts each
    30-s step's code once (and one step either side of its clock), so `code()` gives the code of
    a step not used yet: now's, or else the next step's, which Kassa takes as clock skew."""

    def __init__(self, secret: str):
        import pyotp

        self.totp = pyotp.TOTP(secret)
        self.last_step: Optional[int] = None

    def code(self) -> str:
        step = int(time.time()) // TOTP_STEP_S
        if self.last_step is not None and step <= self.last_step:
            step = self.last_step + 1
            # Two steps ahead would be refused: wait until the next one is one step ahead.
            while step > int(time.time()) // TOTP_STEP_S + 1:
                time.sleep(0.2)
        self.last_step = step
        return self.totp.at(step * TOTP_STEP_S)

    def used_code(self) -> str:
        """The code of the step accepted last (which Kassa must refuse now)."""
        assert self.last_step is not None
        return self.totp.at(self.last_step * TOTP_STEP_S)


# ---------------------------------------------------------------------------------------------
# Every page
# ---------------------------------------------------------------------------------------------


def console_errors(driver) -> list:
    """The console errors logged since the last look (reading them empties the log)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def expect_console_statuses(driver, *statuses: int):
    """Only the expected refusals were logged (Chromium logs a main page's 4xx as an error)."""
    errors = console_errors(driver)
    unexpected = [
        e for e in errors if not any(f"status of {s} " in e.get("message", "") for s in statuses)
    ]
    assert not unexpected, f"the browser console has errors: {unexpected}"


def check_page(driver, kassa, where: str):
    """The floors of every dashboard page: no serious or critical axe-core violation, nothing
    loaded from outside Kassa's origin, no console error."""
    _assert_axe(driver, where)
    _assert_same_origin(driver, where, kassa.base)
    errors = console_errors(driver)
    assert not errors, f"{where}: the browser console has errors: {errors}"


# ---------------------------------------------------------------------------------------------
# Forms posted outside the browser
# ---------------------------------------------------------------------------------------------


def session_cookie(driver) -> str:
    cookie = driver.get_cookie(SESSION_COOKIE)
    assert cookie and cookie["value"], f"no {SESSION_COOKIE} cookie in the browser: {driver.get_cookies()}"
    assert cookie.get("httpOnly") is True, cookie
    assert cookie.get("sameSite") == "Lax", cookie
    return cookie["value"]


def page_csrf(driver) -> str:
    """The session's CSRF token, from the hidden field of the header's sign-out form."""
    token = driver.execute_script(
        "const i = document.querySelector('form.logout input[name=csrf]'); return i && i.value;"
    )
    assert token, f"no CSRF field in the sign-out form at {driver.current_url}"
    return token


def post_form(
    kassa,
    path: str,
    cookie: str,
    form: dict,
    origin: Optional[str] = None,
    fetch_site: Optional[str] = "same-origin",
) -> Response:
    """POSTs a form with a session cookie, as a browser on `origin` (Kassa's own by default)
    would; no redirect followed."""
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": origin or kassa.base}
    if fetch_site:
        headers["Sec-Fetch-Site"] = fetch_site
    return http("POST", kassa.url(path), form=form, headers=headers)


def overflow(d, width: int) -> list:
    """What sticks out of a `width` px wide page: the document's width, and the elements (outside
    the tables' own scrolling boxes) that reach past the right edge.

    Measured against the width the test set rather than `window.innerWidth`: with a phone's
    metrics Chromium widens the layout viewport to content that overflows, so `innerWidth`
    grows with the overflow and comparing against it finds nothing."""
    return d.execute_script(
        """
        const w = arguments[0], doc = document.documentElement.scrollWidth;
        if (doc <= w) return [];
        return [`document ${doc} px wide`].concat([...document.querySelectorAll('body *')]
          .filter(e => e.getBoundingClientRect().right > w + 0.5 && !e.closest('.scroll > table'))
          .concat([...document.querySelectorAll('.scroll > table *')]
            .filter(e => getComputedStyle(e).position === 'absolute'
                         && e.getBoundingClientRect().right > w + 0.5))
          .slice(0, 8).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
            + `${e.className ? '.' + e.className : ''} (right edge at `
            + `${Math.round(e.getBoundingClientRect().right)} px)`));
        """,
        width,
    )
