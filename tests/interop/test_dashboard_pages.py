"""The dashboard pages no other browser test visits, in headless Debian Chromium, on SQLite and
on PostgreSQL: customers, subscriptions, test clocks, settings (team, processor accounts, audit
log) and the password confirmation.

The owner, signed in from the operator's set-up link, creates a test clock from its page; a
customer on that clock with a saved card (`setup_future_usage=off_session`, `pm_card_visa`) and
a monthly subscription billed at once are made through the native API. The lists and pages
show them; the subscription is paused and resumed from its page, behind the confirmation
dialog. From the team page the owner invites a viewer and gets the one-time link (which opens
the viewer's set-up page); the audit log lists that invitation and the owner's other actions.
The password confirmation page takes the password and goes where it was asked to.

Every page is walked at 360 px wide: it must not scroll sideways (the document no wider than
360 px: a table scrolls in its own box), and passes axe-core (no serious or critical
violation), loads nothing from outside Kassa's origin and logs no console error. The customer,
subscription, team and audit pages are checked again and photographed at 1280 px, where the
audit log fits its box, and photographed at 360 px (`dashboard-pages-<page>-<width>.png` in
KASSA_SHOTS_DIR, else target/screenshots).
"""

from __future__ import annotations

import pytest
from dashboard_support import check_page, create_user, overflow
from paymob_support import http
from test_dashboard import (
    DESKTOP,
    PHONE,
    SHOTS,
    _accept_confirm,
    _at,
    _h1,
    _rows,
    _set_password,
    _submit,
)
from test_payer_forms import _type, _wait

pytest.importorskip("selenium")
from screenshots import Walk
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

PASSWORD = "an owner's long password"
DASH = "/dashboard/test"
OWNER = "owner@shop.example"
INVITEE = "new.viewer@shop.example"


# ---------------------------------------------------------------------------------------------
# Small steps
# ---------------------------------------------------------------------------------------------


def _api(kassa, path: str, body: dict) -> dict:
    status, obj = kassa.request("POST", path, body)
    assert status == 200, f"POST {path}: HTTP {status}: {obj}"
    return obj


def _overflow(d) -> list:
    return overflow(d, PHONE[0])


def _looked_at(d, kassa, where: str):
    """The page at 360 px: no sideways scrolling, and the floors of every dashboard page."""
    sticking_out = _overflow(d)
    assert not sticking_out, f"{where} scrolls sideways at 360 px: {sticking_out}"
    check_page(d, kassa, f"{where} at 360 px")


def _open(d, kassa, path: str, where: str):
    d.get(kassa.url(path))
    _wait(d, EC.visibility_of_element_located((By.TAG_NAME, "h1")), where)
    _looked_at(d, kassa, where)


def _audit(d) -> list:
    return d.execute_script(
        """
        return [...document.querySelectorAll('#audit tbody tr')].map(r => {
          const c = r.querySelectorAll('td');
          return {who: c[1].innerText, from: c[2].innerText, action: c[3].innerText.trim(),
                  target: c[4].innerText.trim()};
        });
        """
    )


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


def test_customers_subscriptions_clocks_and_settings_pages(browser, kassa, database_url):
    d = browser
    walk = Walk(d, kassa, None, None, SHOTS, "")
    SHOTS.mkdir(parents=True, exist_ok=True)
    walk.size(*PHONE)
    owner = create_user(kassa, database_url, OWNER, "owner")
    _set_password(d, kassa, owner, PASSWORD)

    # ---- Test clocks: the empty list, a clock created from its form ----
    _open(d, kassa, f"{DASH}/clocks", "test clocks, empty")
    assert _h1(d) == "Test clocks"
    assert "No test clocks yet." in d.find_element(By.TAG_NAME, "main").text
    _type(d, "clock-name", "monthly renewals")
    _submit(d, f"form[action='{DASH}/clocks'] button[type=submit]")
    _wait(d, lambda d: "/clocks/clock_" in d.current_url, "the new clock's page")
    clock_path = d.current_url.split("?")[0].removeprefix(kassa.base)
    clock = clock_path.rsplit("/", 1)[1]
    assert _h1(d) == "monthly renewals"
    assert d.find_element(By.ID, "clock-id").text == clock
    _looked_at(d, kassa, "a new clock's page")

    # ---- A customer on the clock with a saved card, and a subscription, through the API ----
    cus = _api(
        kassa,
        "/v1/customers",
        {"email": "ada@example.com", "name": "Ada Lovelace", "phone": "+44 20 7946 0958",
         "description": "first customer", "metadata": {"crm": "17"}, "test_clock": clock},
    )["id"]
    pi = _api(
        kassa,
        "/v1/payment_intents",
        {"amount": 2500, "currency": "usd", "customer": cus, "setup_future_usage": "off_session"},
    )
    paid = _api(kassa, f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method": "pm_card_visa"})
    assert paid["status"] == "succeeded", paid
    pm = paid["payment_method"]["id"]
    sub = _api(
        kassa,
        "/v1/subscriptions",
        {"customer": cus, "default_payment_method": pm, "metadata": {"plan": "pro"},
         "items": [{"price_data": {"currency": "usd", "unit_amount": 1500, "recurring": {"interval": "month"},
                                   "product_data": {"name": "Pro plan"}}, "quantity": 2}]},
    )
    assert sub["status"] == "active" and sub["test_clock"] == clock, sub
    sid = sub["id"]

    # ---- Customers ----
    _open(d, kassa, f"{DASH}/customers", "customers list")
    (row,) = _rows(d, "#customers")
    assert cus in row and "Ada Lovelace" in row and clock in row, row
    d.find_element(By.CSS_SELECTOR, f"#customers a[href='{DASH}/customers/{cus}']").click()
    _at(d, kassa, f"{DASH}/customers/{cus}", "the customer's page")
    assert _h1(d) == "Ada Lovelace"
    (card,) = _rows(d, "#cards")
    assert "visa" in card and "4242" in card, card
    (line,) = _rows(d, "#subscriptions")
    assert sid in line and "active" in line and "30.00 USD / month" in line, line
    payments = _rows(d, "#payments")
    assert len(payments) == 2 and any(pi["id"] in p for p in payments), payments
    _looked_at(d, kassa, "customer page")
    walk.shot("dashboard-pages-customer")

    # ---- Subscriptions: the list, the page, pausing and resuming ----
    _open(d, kassa, f"{DASH}/subscriptions", "subscriptions list")
    (row,) = _rows(d, "#subscriptions")
    assert sid in row and "(test clock)" in row and "active" in row and "30.00 USD / month" in row, row
    d.find_element(By.CSS_SELECTOR, f"#subscriptions a[href='{DASH}/subscriptions/{sid}']").click()
    _at(d, kassa, f"{DASH}/subscriptions/{sid}", "the subscription's page")
    assert d.find_element(By.ID, "sub-status").text == "active"
    assert d.find_element(By.ID, "sub-clock").text == clock
    (invoice,) = _rows(d, "#invoices")
    assert "30.00 USD" in invoice and "paid" in invoice, invoice
    _looked_at(d, kassa, "subscription page")
    _submit(d, f"form[action$='/subscriptions/{sid}/pause'] button[type=submit]")
    _accept_confirm(d, "Pause this subscription? Nothing is billed or retried until it resumes.")
    _wait(d, lambda d: "done=pause" in d.current_url, "the page after pausing")
    assert d.find_element(By.ID, "sub-status").text == "paused"
    assert d.find_element(By.CSS_SELECTOR, ".flash[role=status]").text.startswith("Subscription paused")
    _looked_at(d, kassa, "subscription page, paused")
    _submit(d, f"form[action$='/subscriptions/{sid}/resume'] button[type=submit]")
    _accept_confirm(d, "Resume this subscription? A period that ended while it was paused is billed at once.")
    _wait(d, lambda d: "done=resume" in d.current_url, "the page after resuming")
    assert d.find_element(By.ID, "sub-status").text == "active"
    assert kassa.request("GET", f"/v1/subscriptions/{sid}")[1]["status"] == "active"
    walk.shot("dashboard-pages-subscription")

    # ---- The clock with its customer and subscription ----
    _open(d, kassa, f"{DASH}/clocks", "test clocks list")
    (row,) = _rows(d, "#clocks")
    assert clock in row and "monthly renewals" in row, row
    _open(d, kassa, clock_path, "clock page")
    assert sid in _rows(d, "#subscriptions")[0]
    assert cus in _rows(d, "#customers")[0]

    # ---- Settings: the overview, processor accounts ----
    _open(d, kassa, f"{DASH}/settings", "settings")
    assert _h1(d) == "Settings"
    _open(d, kassa, f"{DASH}/settings/processors", "processor accounts")
    assert "No processor account." in d.find_element(By.TAG_NAME, "main").text

    # ---- The team: inviting a viewer, the one-time link ----
    _open(d, kassa, f"{DASH}/settings/team", "team")
    (me,) = _rows(d, "#team")
    assert f"{OWNER} (you)" in me and "owner" in me, me
    _type(d, "invite-email", INVITEE)
    Select(d.find_element(By.ID, "invite-role")).select_by_value("viewer")
    _submit(d, f"form[action='{DASH}/settings/team'] button[type=submit]")
    link = _wait(d, EC.visibility_of_element_located((By.ID, "invite-link")), "the invitation link").text
    assert link.startswith(kassa.url("/dashboard/setup/")), link
    assert d.find_element(By.ID, "inv-h").text == f"Invitation for {INVITEE}"
    rows = _rows(d, "#team")
    (invited,) = [r for r in rows if INVITEE in r]
    assert "viewer" in invited and "invited" in invited, invited
    invitee_id = d.find_element(By.CSS_SELECTOR, "#team select[id^='role-usr_']").get_attribute("id")[5:]
    _looked_at(d, kassa, "team page with an invitation link")
    walk.shot("dashboard-pages-team")
    walk.size(*DESKTOP)
    check_page(d, kassa, "team page with an invitation link at 1280 px")
    walk.shot("dashboard-pages-team")
    walk.size(*PHONE)
    # The link opens the invitee's set-up page (opening it does not use it up).
    r = http("GET", link)
    assert r.status == 200 and INVITEE in r.text and "Set your password" in r.text, (r.status, r.text[:500])

    # ---- The audit log: the invitation and the owner's actions ----
    _open(d, kassa, f"{DASH}/settings/audit", "audit log")
    records = _audit(d)
    acts = {(r["action"], r["target"]): r for r in records}
    invite = acts.get(("user.create", invitee_id))
    assert invite and invite["who"] == f"{OWNER} (user)" and "127.0.0.1" in invite["from"], records
    made = acts.get(("user.create", owner["id"]))
    assert made and made["who"].endswith("(cli)"), records
    assert ("user.password_set", owner["id"]) in acts, records
    for action in ("subscription.pause", "subscription.resume"):
        assert acts.get((action, sid), {}).get("who") == f"{OWNER} (user)", records
    walk.shot("dashboard-pages-audit")

    # ---- Confirming the password ----
    _open(d, kassa, f"{DASH}/account/reauth?next={DASH}/settings/team", "password confirmation")
    assert _h1(d) == "Confirm your password"
    _type(d, "password", PASSWORD)
    _submit(d, "main form button[type=submit]")
    _at(d, kassa, f"{DASH}/settings/team", "the team page after confirming the password")

    # ---- At 1280 px ----
    walk.size(*DESKTOP)
    for name, path in (
        ("customer", f"{DASH}/customers/{cus}"),
        ("subscription", f"{DASH}/subscriptions/{sid}"),
        ("audit", f"{DASH}/settings/audit"),
    ):
        d.get(kassa.url(path))
        _wait(d, EC.visibility_of_element_located((By.TAG_NAME, "h1")), f"{name} at 1280 px")
        check_page(d, kassa, f"{name} page at 1280 px")
        walk.shot(f"dashboard-pages-{name}")
    # On a desktop the audit log fits its box, and what changed is not squeezed into a sliver.
    box, changes = d.execute_script(
        "const s = document.querySelector('#audit').parentElement;"
        "return [[s.scrollWidth, s.clientWidth],"
        " document.querySelector('#audit th:last-child').getBoundingClientRect().width];"
    )
    assert box[0] <= box[1] and changes >= 200, f"the audit log at 1280 px: {box}, what changed {changes} px"
    for name in ("customer", "subscription", "team", "audit"):
        for size in (PHONE, DESKTOP):
            assert (SHOTS / f"dashboard-pages-{name}-{size[0]}.png").is_file()
