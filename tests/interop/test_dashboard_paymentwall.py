"""The dashboard's Paymentwall projects in headless Debian Chromium, on SQLite and on PostgreSQL.

A merchant sets up a Paymentwall project entirely in the dashboard and sees each change take
effect for the next customer: the project is created (its secret shown once), its pingback URL
set in Settings; a first payment's pingback goes there. The Payment Systems matrix gets a row for
Germany without the bank transfer: the next payment page for a German link (built by the
official Paymentwall Python SDK, `paymentwall-python`) no longer offers it while a French one
still does, and ticking it again brings it back; the Payment Systems API preview shows the same.
The pingback URL is changed: the next payment's pingback goes to the new URL only and the SDK's
own `Pingback.validate()` accepts it. The Test Pingback Tool sends a pingback the SDK accepts and
shows the merchant's answer; the Keys tab regenerates the secret behind its confirmation, after
which pingbacks validate with the new secret only. The Widgets tab previews the payment page in
an iframe.

Every dashboard page on the way passes axe-core (no serious or critical violation), loads
nothing from outside Kassa's origin and logs no console error; the Settings and Payment Systems
pages do not scroll sideways at 360 px and are photographed (`dashboard-pw-<page>-<width>.png`
in KASSA_SHOTS_DIR, else target/screenshots).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from dashboard_support import check_page, create_user, expect_console_statuses
from paymentwall_support import PwProject, assert_paid, card_fields, open_link, pay
from test_payer_forms import _type, _wait

pytest.importorskip("selenium")
pytest.importorskip("pyotp")
pytest.importorskip("paymentwall")
from paymentwall import Paymentwall, Product, Widget
from screenshots import Walk
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from test_dashboard import (
    _accept_confirm,
    _at,
    _h1,
    _no_sideways_scroll,
    _set_password,
    _submit,
)
from test_paymentwall_sdk import link as sdk_link
from test_paymentwall_sdk import sdk_validator

DESKTOP = (1280, 800)
PHONE = (360, 740)
PASSWORD = "correct horse battery staple"
SHOTS = Path(os.environ.get("KASSA_SHOTS_DIR") or REPO_ROOT / "target" / "screenshots")
GOLD = Product("product301", 9.99, "USD", "Gold Membership")


def _flash(driver) -> str:
    return _wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, ".flash[role=status]")), "the flash").text


def _tab(driver, kassa, project_id: str, name: str, path: str):
    """Opens a project tab from the tab bar."""
    driver.find_element(By.LINK_TEXT, name).click()
    _at(driver, kassa, f"/dashboard/test/paymentwall/{project_id}{path}", f"the {name} tab")
    current = driver.find_element(By.CSS_SELECTOR, "nav.pw-tabs a[aria-current=page]").text
    assert current == name, current


def _methods_on_page(driver, url: str) -> list:
    """Opens a signed link in the browser; the payment systems its page offers."""
    driver.get(url)
    _wait(driver, EC.presence_of_element_located((By.ID, "pw")), "the payment page")
    return [a.get_attribute("id")[3:] for a in driver.find_elements(By.CSS_SELECTOR, "#methods a.pw-method")]


def _matrix_row(driver, country: str):
    return driver.find_element(By.CSS_SELECTOR, f"#matrix tr[data-country='{country}']")


def _box(row, method: str):
    return row.find_element(By.CSS_SELECTOR, f"input[type=checkbox][value='{method}']")


def test_a_paymentwall_project_set_up_in_the_dashboard(browser, kassa, pingbacks, database_url, monkeypatch):
    d = browser
    walk = Walk(d, kassa, None, pingbacks, SHOTS, "")
    walk.size(*DESKTOP)
    monkeypatch.setattr(Widget, "BASE_URL", kassa.url("/api"))
    monkeypatch.setattr(Paymentwall, "errors", [])
    owner = create_user(kassa, database_url, "dev@shop.example", "developer")
    _set_password(d, kassa, owner, PASSWORD)

    # ---- Create the project: the secret key is shown once ----
    d.find_element(By.CSS_SELECTOR, "nav.side a[href='/dashboard/test/paymentwall']").click()
    _at(d, kassa, "/dashboard/test/paymentwall", "the Paymentwall projects")
    assert _h1(d) == "Paymentwall projects"
    check_page(d, kassa, "Paymentwall projects, none yet")
    _type(d, "pw-name", "Game shop")
    Select(d.find_element(By.ID, "pw-api")).select_by_value("digital_goods")
    _submit(d, "form[action='/dashboard/test/paymentwall'] button[type=submit]")
    secret = _wait(d, EC.visibility_of_element_located((By.ID, "new-secret")), "the new secret").text
    key = d.find_element(By.ID, "new-project-key").text
    assert len(secret) == 32 and len(key) == 32, (secret, key)
    check_page(d, kassa, "Paymentwall projects with the new secret")
    d.find_element(By.LINK_TEXT, "Set up the project").click()
    project_id = d.current_url.rstrip("/").split("/")[-1]
    assert project_id.startswith("pwp_"), d.current_url
    project = PwProject(project_id, key, secret, "digital_goods", {})
    d.get(kassa.url("/dashboard/test/paymentwall"))
    assert secret not in d.page_source, "the secret is shown only once"
    d.find_element(By.LINK_TEXT, "Game shop").click()

    # ---- Settings: the pingback URL; a first payment's pingback goes there ----
    _at(d, kassa, f"/dashboard/test/paymentwall/{project_id}", "the project's settings")
    assert "shared by test and live mode" in d.find_element(By.TAG_NAME, "main").text
    check_page(d, kassa, "project settings")
    pingbacks.check_with("first", sdk_validator(project))
    pingbacks.check_with("second", sdk_validator(project))
    _type(d, "s-pingback", pingbacks.url("first"))
    _submit(d, "#settings-form button[type=submit]")
    assert _flash(d) == "Settings saved."
    assert d.find_element(By.ID, "s-pingback").get_attribute("value") == pingbacks.url("first")
    check_page(d, kassa, "project settings, saved")
    # A refused value: the reason on the form, nothing saved.
    _type(d, "s-custom", "order_id=NOT_A_MACRO")
    _submit(d, "#settings-form button[type=submit]")
    error = _wait(d, EC.visibility_of_element_located((By.ID, "form-error")), "the settings error").text
    assert "must be OWN" in error, error
    assert d.find_element(By.ID, "s-custom").get_attribute("value") == "order_id=NOT_A_MACRO"
    expect_console_statuses(d, 400)
    check_page(d, kassa, "project settings, refused")

    first = assert_paid(pay(open_link(sdk_link(project, "user-1", [GOLD], {"country_code": "US"})), card_fields(), ps="cc"))
    (pb,) = pingbacks.wait_for_type("0", name="first", uid="user-1")
    assert pb.valid and pb.get("ref") == first["id"], (pb.query, pb.detail)

    # ---- Payment Systems: Germany without the bank transfer, on the very next page ----
    de_link = lambda uid: sdk_link(project, uid, [GOLD], {"country_code": "DE"})
    fr_link = lambda uid: sdk_link(project, uid, [GOLD], {"country_code": "FR"})
    assert "sandboxbank" in _methods_on_page(d, de_link("user-de-1"))
    d.get(kassa.url(f"/dashboard/test/paymentwall/{project_id}"))
    _tab(d, kassa, project_id, "Payment Systems", "/payment-systems")
    check_page(d, kassa, "payment systems")
    any_row = _matrix_row(d, "*")
    assert all(_box(any_row, m).is_selected() for m in ("cc", "sandboxwallet", "sandboxbank", "sandboxcash"))
    _type(d, "new-country", "DE")
    for m in ("cc", "sandboxwallet"):
        d.find_element(By.ID, f"ps-new-{m}").click()
    _submit(d, "#matrix-form button[type=submit]")
    assert _flash(d) == "Payment systems saved."
    de_row = _matrix_row(d, "DE")
    assert [m for m in ("cc", "sandboxwallet", "sandboxbank", "sandboxcash") if _box(de_row, m).is_selected()] == [
        "cc", "sandboxwallet"
    ]
    check_page(d, kassa, "payment systems with Germany")
    # The API's answer for Germany, previewed.
    _type(d, "preview-country", "de")
    _submit(d, "form.search button[type=submit]")
    answer = json.loads(_wait(d, EC.visibility_of_element_located((By.ID, "preview-json")), "the preview").text)
    assert [m["id"] for m in answer] == ["cc", "sandboxwallet", "test"], answer
    check_page(d, kassa, "payment systems preview")
    de_methods = _methods_on_page(d, de_link("user-de-2"))
    assert "sandboxbank" not in de_methods and "sandboxwallet" in de_methods, de_methods
    assert "sandboxbank" in _methods_on_page(d, fr_link("user-fr-1")), "other countries keep it"
    # Ticking it again brings it back.
    d.get(kassa.url(f"/dashboard/test/paymentwall/{project_id}/payment-systems"))
    _box(_matrix_row(d, "DE"), "sandboxbank").click()
    _submit(d, "#matrix-form button[type=submit]")
    assert _flash(d) == "Payment systems saved."
    assert "sandboxbank" in _methods_on_page(d, de_link("user-de-3"))

    # ---- A new pingback URL: the next pingback goes there, and the SDK accepts it ----
    d.get(kassa.url(f"/dashboard/test/paymentwall/{project_id}"))
    _type(d, "s-custom", "")
    _type(d, "s-pingback", pingbacks.url("second"))
    _submit(d, "#settings-form button[type=submit]")
    assert _flash(d) == "Settings saved."
    second = assert_paid(pay(open_link(de_link("user-2")), card_fields(), ps="cc"))
    (pb,) = pingbacks.wait_for_type("0", name="second", uid="user-2")
    assert pb.valid and pb.get("ref") == second["id"], (pb.query, pb.detail)
    pingbacks.assert_quiet(1, name="first")
    pingbacks.assert_all_valid()

    # ---- The Test Pingback Tool ----
    _tab(d, kassa, project_id, "Test Pingback Tool", "/test-pingback")
    assert d.find_element(By.ID, "tool-target").text == pingbacks.url("second")
    check_page(d, kassa, "Test Pingback Tool")
    _type(d, "t-uid", "tool-user")
    _submit(d, "#tool-form button[type=submit]")
    _wait(d, EC.visibility_of_element_located((By.ID, "report")), "the tool's report")
    assert _h1(d) == "Game shop Digital Goods API", _h1(d)
    assert d.find_element(By.ID, "report-h").text == "Your server accepted the pingback"
    assert d.find_element(By.ID, "report-status").text.startswith("HTTP 200")
    assert d.find_element(By.ID, "report-body").text == "OK"
    base = d.find_element(By.ID, "report-base").text
    assert base.endswith("<secret>") and secret not in d.page_source, base
    (pb,) = pingbacks.wait_for_type("0", name="second", uid="tool-user")
    assert pb.valid and pb.get("is_test") == "1", (pb.query, pb.detail)
    assert d.find_element(By.ID, "report-sig").text == pb.get("sig")
    check_page(d, kassa, "Test Pingback Tool report")

    # ---- Keys: a new secret, after which only it signs ----
    _tab(d, kassa, project_id, "Keys", "/keys")
    assert d.find_element(By.ID, "project-key").text == key
    check_page(d, kassa, "project keys")
    _submit(d, "form[action$='/keys/regenerate'] button[type=submit]")
    _accept_confirm(d, "Make a new secret key? The old one stops working at once.")
    new_secret = _wait(d, EC.visibility_of_element_located((By.ID, "new-secret")), "the new secret").text
    assert len(new_secret) == 32 and new_secret != secret
    check_page(d, kassa, "project keys with the new secret")
    d.get(kassa.url(f"/dashboard/test/paymentwall/{project_id}/test-pingback"))
    _type(d, "t-uid", "after-regen")
    _submit(d, "#tool-form button[type=submit]")
    _wait(d, EC.visibility_of_element_located((By.ID, "report")), "the tool's report")
    (pb,) = pingbacks.wait_for_type("0", name="second", uid="after-regen")
    assert not pb.valid, "signed with the new secret: the SDK holding the old one refuses it"
    assert d.find_element(By.ID, "report-h").text == "The pingback was not accepted"
    assert "HTTP 403" in d.find_element(By.ID, "report-status").text
    expect_console_statuses(d)
    project.secret = new_secret
    _submit(d, "#tool-form button[type=submit]")
    _wait(d, lambda d: len(pingbacks.all("second")) == 4, "a fourth pingback to the new URL")
    assert pingbacks.all("second")[-1].valid, pingbacks.all("second")[-1].detail

    # ---- Widgets: the preview, framed ----
    d.get(kassa.url(f"/dashboard/test/paymentwall/{project_id}/widgets"))
    check_page(d, kassa, "widgets")
    Select(d.find_element(By.ID, "p-widget")).select_by_value("pw_1")
    _type(d, "p-country", "DE")
    _submit(d, "form.grid button[type=submit]")
    frame = _wait(d, EC.presence_of_element_located((By.ID, "preview-frame")), "the preview iframe")
    d.switch_to.frame(frame)
    _wait(d, EC.presence_of_element_located((By.ID, "pw")), "the payment page inside the preview")
    d.switch_to.default_content()

    # ---- A phone: no sideways scrolling; screenshots ----
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = [
        ("settings", kassa.url(f"/dashboard/test/paymentwall/{project_id}")),
        ("systems", kassa.url(f"/dashboard/test/paymentwall/{project_id}/payment-systems")),
        ("tool", kassa.url(f"/dashboard/test/paymentwall/{project_id}/test-pingback")),
    ]
    for size in (PHONE, DESKTOP):
        walk.size(*size)
        for name, url in pages:
            d.get(url)
            _wait(d, EC.visibility_of_element_located((By.TAG_NAME, "h1")), f"{name} at {size[0]} px")
            if size == PHONE:
                assert _no_sideways_scroll(d, 360), f"the project's {name} page scrolls sideways at 360 px"
            walk.shot(f"dashboard-pw-{name}")
    check_page(d, kassa, "test pingback tool at 1280 px")
