"""Developers › Webhooks and Events of the merchant dashboard in headless Debian Chromium, on
SQLite and on PostgreSQL.

A developer adds a webhook endpoint from the form (two event types ticked instead of "all"),
copies the signing secret the answer shows once, and the Standard Webhooks library
(`standardwebhooks` from PyPI) verifies the webhook a payment then sends with it. The list shows
the endpoint's health; its page shows the delivery with its attempt; the event log lists the
event, whose page shows its JSON and its delivery, and the webhook is resent from there (a
second request arrives). Disabling the endpoint goes through the page's confirmation dialog.

Every page passes axe-core (no serious or critical violation), loads nothing from outside
Kassa's origin and logs no console error; the list, an endpoint's page and an event's page do
not scroll sideways at 360 px and are photographed at 360 and 1280 px
(`dashboard-webhooks-<page>-<width>.png` in KASSA_SHOTS_DIR, else target/screenshots).
"""

from __future__ import annotations

import pytest

from dashboard_support import check_page, create_user
from test_dashboard import (
    DESKTOP,
    PHONE,
    SHOTS,
    _accept_confirm,
    _at,
    _h1,
    _no_sideways_scroll,
    _rows,
    _set_password,
    _submit,
)
from test_payer_forms import _type, _wait

pytest.importorskip("selenium")
pytest.importorskip("standardwebhooks")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402

from screenshots import Walk  # noqa: E402

PASSWORD = "a developer's long password"
HOOKS = "/dashboard/test/developers/webhooks"
EVENTS = "/dashboard/test/developers/events"


def _hooks(deliveries: list) -> list:
    return [x for x in deliveries if x.path == "/hook"]


def test_a_developer_adds_an_endpoint_and_follows_its_deliveries(browser, kassa, receiver, database_url):
    d = browser
    walk = Walk(d, kassa, receiver, None, SHOTS, "")
    walk.size(*DESKTOP)
    dev = create_user(kassa, database_url, "dev@shop.example", "developer")
    _set_password(d, kassa, dev, PASSWORD)

    # ---- The empty list and the form ----
    d.find_element(By.CSS_SELECTOR, f"nav.side a[href='{HOOKS}']").click()
    _at(d, kassa, HOOKS, "the webhooks page")
    assert _h1(d) == "Webhooks"
    assert "No webhook endpoint" in d.find_element(By.TAG_NAME, "main").text
    check_page(d, kassa, "webhooks list, empty")
    _type(d, "ep-url", receiver.url("/hook"))
    _type(d, "ep-desc", "shop backend")
    all_events = d.find_element(By.ID, "new-all")
    assert all_events.is_selected(), "every event is the default"
    all_events.click()
    # The single types fold away while "all events" is ticked.
    assert not d.find_element(By.ID, "new-refund.created").is_displayed()
    d.find_element(By.CSS_SELECTOR, "fieldset.event-types summary").click()
    d.find_element(By.ID, "new-payment_intent.succeeded").click()
    d.find_element(By.ID, "new-refund.created").click()
    _submit(d, f"form[action='{HOOKS}'] button[type=submit]")
    secret = _wait(d, EC.visibility_of_element_located((By.ID, "new-secret")), "the new signing secret").text
    assert secret.startswith("whsec_"), secret
    check_page(d, kassa, "webhooks list with the new secret")
    (row,) = _rows(d, "#endpoints")
    assert receiver.url("/hook") in row and "payment_intent.succeeded, refund.created" in row, row
    assert "no deliveries tried yet" in row, row

    # ---- A payment's webhook verifies with the secret the page showed ----
    pi = kassa.create_intent(receiver.url("/done"))
    status, paid = kassa.confirm(pi["id"], "pm_card_visa")
    assert status == 200 and paid["status"] == "succeeded", (status, paid)
    (hook,) = _hooks(receiver.wait_for(lambda got: len(_hooks(got)) >= 1, 15, "the payment's webhook"))
    payload = Webhook(secret).verify(hook.body, hook.headers)
    assert payload["type"] == "payment_intent.succeeded" and payload["data"]["object"]["id"] == pi["id"], payload
    event_id = payload["id"]

    def healthy(d):
        d.refresh()
        rows = _rows(d, "#endpoints")
        return rows if rows and "100% (1 of the last 1)" in rows[0] else None

    d.get(kassa.url(HOOKS))
    _wait(d, healthy, "the endpoint's health after the delivery")
    assert secret not in d.page_source, "the secret is shown once"

    # ---- The endpoint's page: its delivery and the attempt ----
    d.find_element(By.CSS_SELECTOR, "#endpoints a").click()
    _wait(d, lambda d: "/developers/webhooks/we_" in d.current_url, "the endpoint's page")
    endpoint_url = d.current_url.split("?")[0]
    assert receiver.url("/hook") in _h1(d)
    assert d.find_element(By.ID, "health").text == "100% (1 of the last 1)"
    delivery = d.find_element(By.CSS_SELECTOR, "#deliveries li.delivery")
    assert event_id in delivery.text and "succeeded" in delivery.find_element(By.CSS_SELECTOR, ".dstatus").text
    attempts = delivery.find_elements(By.CSS_SELECTOR, "tr.attempt")
    assert len(attempts) == 1 and "200" in attempts[0].text, [a.text for a in attempts]
    check_page(d, kassa, "endpoint page")

    # ---- The event log and the event's page; resending from there ----
    d.find_element(By.CSS_SELECTOR, f"nav.side a[href='{EVENTS}']").click()
    _at(d, kassa, EVENTS, "the events page")
    check_page(d, kassa, "events list")
    assert any(event_id in r for r in _rows(d, "#events")), _rows(d, "#events")
    d.find_element(By.CSS_SELECTOR, f"#events a[href='{EVENTS}/{event_id}']").click()
    _at(d, kassa, f"{EVENTS}/{event_id}", "the event's page")
    assert _h1(d) == "payment_intent.succeeded"
    assert f'"id": "{pi["id"]}"' in d.find_element(By.ID, "event-json").text
    check_page(d, kassa, "event page")
    _submit(d, "#deliveries form[action$='/resend'] button[type=submit]")
    flash = _wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, ".flash[role=status]")), "the resend's message")
    assert flash.text == "Sent again: the receiver accepted it.", flash.text
    assert len(_hooks(receiver.snapshot())) == 2, "sent again"
    attempts = d.find_elements(By.CSS_SELECTOR, "#deliveries tr.attempt")
    assert [a.text.split()[0] for a in attempts] == ["1", "2"] and "manual" in attempts[1].text

    # ---- At 360 and 1280 px ----
    pages = [("list", kassa.url(HOOKS)), ("endpoint", endpoint_url), ("event", kassa.url(f"{EVENTS}/{event_id}"))]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size in (PHONE, DESKTOP):
        walk.size(*size)
        for name, url in pages:
            d.get(url)
            _wait(d, EC.visibility_of_element_located((By.TAG_NAME, "h1")), f"{name} at {size[0]} px")
            if size == PHONE:
                assert _no_sideways_scroll(d, size[0]), f"webhooks {name} scrolls sideways at {size[0]} px"
                check_page(d, kassa, f"webhooks {name} at {size[0]} px")
            walk.shot(f"dashboard-webhooks-{name}")

    # ---- Disabling, behind the confirmation ----
    d.get(endpoint_url)
    _submit(d, "form[action$='/disable'] button[type=submit]")
    _accept_confirm(d, "Stop sending events to this endpoint?")
    flash = _wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, ".flash[role=status]")), "the disabled message")
    assert flash.text.startswith("Endpoint disabled"), flash.text
    assert "disabled" in _h1(d)
    status, ep = kassa.request("GET", f"/v1/webhook_endpoints/{endpoint_url.rsplit('/', 1)[1]}")
    assert status == 200 and ep["status"] == "disabled", ep
    check_page(d, kassa, "endpoint page, disabled")
