"""A Python client generated from ``/v1/openapi.json`` by a standard generator drives the API.

``openapi-python-client`` (PyPI, unmodified) turns the document into a typed package (attrs
models, enums, one module per operation); the test generates it into a temporary directory,
imports it from there, and uses only it to create a customer, a payment intent confirmed with
``pm_card_visa`` that saves the card, a refund, and a monthly subscription paid with the saved
card, then reads them back. The answers arrive as the generated model classes with their typed
fields (enums, nested models), never as raw dicts: what a merchant who generates a client from the
document gets.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "kassa_client"
# Generation settings: the package's name, and no formatter run over the output (the generator
# would look for `ruff` on PATH; formatting changes nothing the test uses).
CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: kassa-client\npost_hooks: []\n"
# The only operation the generator cannot express: the logo upload's body is an image file.
EXPECTED_WARNING = "POST /v1/branding/logo"


def _generate(kassa, where: Path):
    """Generates the client package from the served document and imports it."""
    status, doc = kassa.request("GET", "/v1/openapi.json")
    assert status == 200, doc
    (where / "openapi.json").write_text(json.dumps(doc))
    (where / "config.yaml").write_text(CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
        ],
        cwd=where,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert (where / PACKAGE / "__init__.py").exists(), out
    # Every operation but the logo upload is generated; the generator names what it skips.
    skipped = [line for line in out.splitlines() if line.startswith("WARNING parsing")]
    assert all(EXPECTED_WARNING in line for line in skipped), out
    assert "Cannot parse" not in out and "will be omitted" not in out, out
    sys.path.insert(0, str(where))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def client_package(kassa, tmp_path):
    package = _generate(kassa, tmp_path)
    yield package
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def test_a_generated_client_pays_refunds_and_reads_back(kassa, client_package):
    kc = client_package
    from kassa_client.api.customers import create as create_customer
    from kassa_client.api.customers import customers_retrieve as retrieve_customer
    from kassa_client.api.payment_intents import create_payment_intent, retrieve_payment_intent
    from kassa_client.api.payment_methods import list_for_customer
    from kassa_client.api.refunds import create_refund, list_refunds, retrieve_refund
    from kassa_client.models import (
        CaptureMethod,
        CreatePaymentIntent,
        CreateRefund,
        CurrencyCode,
        CustomerFields,
        CustomerObject,
        ErrorBody,
        ErrorType,
        IntentStatus,
        MethodKind,
        PaymentIntentObject,
        PaymentMethodList,
        PaymentMethodSummary,
        RefundList,
        RefundObject,
        RefundStatus,
        SetupFutureUsage,
    )

    client = kc.AuthenticatedClient(base_url=kassa.base, token=kassa.secret_key, raise_on_unexpected_status=True)

    # A customer.
    customer = create_customer.sync(
        client=client, body=CustomerFields(email="ada@shop.example", name="Ada Lovelace")
    )
    assert isinstance(customer, CustomerObject), customer
    assert customer.id.startswith("cus_") and customer.name == "Ada Lovelace"

    # A payment by card for them, paid at once, saving the card for later.
    pi = create_payment_intent.sync(
        client=client,
        body=CreatePaymentIntent(
            amount=2500,
            currency=CurrencyCode.EUR,
            customer=customer.id,
            setup_future_usage=SetupFutureUsage.OFF_SESSION,
            payment_method="pm_card_visa",
            confirm=True,
            description="Order 42",
        ),
        idempotency_key="order-42",
    )
    assert isinstance(pi, PaymentIntentObject), pi
    assert pi.status is IntentStatus.SUCCEEDED
    assert pi.capture_method is CaptureMethod.AUTOMATIC
    assert (pi.amount, pi.amount_received, pi.currency) == (2500, 2500, CurrencyCode.EUR)
    assert pi.customer == customer.id and pi.setup_future_usage is SetupFutureUsage.OFF_SESSION
    card = pi.payment_method
    assert isinstance(card, PaymentMethodSummary), card
    assert card.kind is MethodKind.CARD and card.brand == "visa" and card.last4 == "4242"
    assert pi.last_payment_error is None and pi.next_action is None

    # The same request again answers the same intent (Idempotency-Key), typed the same.
    replay = create_payment_intent.sync(
        client=client,
        body=CreatePaymentIntent(
            amount=2500,
            currency=CurrencyCode.EUR,
            customer=customer.id,
            setup_future_usage=SetupFutureUsage.OFF_SESSION,
            payment_method="pm_card_visa",
            confirm=True,
            description="Order 42",
        ),
        idempotency_key="order-42",
    )
    assert isinstance(replay, PaymentIntentObject) and replay.id == pi.id

    # A partial refund.
    refund = create_refund.sync(
        client=client, body=CreateRefund(payment_intent=pi.id, amount=1000, reason="requested_by_customer")
    )
    assert isinstance(refund, RefundObject), refund
    assert refund.status is RefundStatus.SUCCEEDED
    assert (refund.amount, refund.payment_intent, refund.currency) == (1000, pi.id, CurrencyCode.EUR)

    # Read everything back.
    again = retrieve_customer.sync(customer.id, client=client)
    assert isinstance(again, CustomerObject) and again.email == "ada@shop.example"
    paid = retrieve_payment_intent.sync(pi.id, client=client)
    assert isinstance(paid, PaymentIntentObject), paid
    assert (paid.amount_refunded, paid.description) == (1000, "Order 42")
    got = retrieve_refund.sync(refund.id, client=client)
    assert isinstance(got, RefundObject) and got.id == refund.id
    page = list_refunds.sync(client=client, payment_intent=pi.id)
    assert isinstance(page, RefundList) and [r.id for r in page.data] == [refund.id]
    saved = list_for_customer.sync(customer.id, client=client)
    assert isinstance(saved, PaymentMethodList), saved
    assert [m.card.last4 for m in saved.data] == ["4242"]
    assert saved.data[0].customer == customer.id

    # A monthly subscription paid with the saved card: its first invoice is paid at once.
    from kassa_client.api.invoices import retrieve_invoice
    from kassa_client.api.subscriptions import create_subscription, retrieve_subscription
    from kassa_client.models import (
        CreateSubscription,
        Interval,
        InvoiceObject,
        InvoiceStatus,
        ItemInput,
        PriceData,
        ProductData,
        RecurringInput,
        SubscriptionObject,
        SubscriptionStatus,
    )

    sub = create_subscription.sync(
        client=client,
        body=CreateSubscription(
            customer=customer.id,
            default_payment_method=saved.data[0].id,
            items=[
                ItemInput(
                    price_data=PriceData(
                        currency="eur",
                        unit_amount=900,
                        recurring=RecurringInput(interval=Interval.MONTH),
                        product_data=ProductData(name="Reading club"),
                    ),
                    quantity=2,
                )
            ],
        ),
    )
    assert isinstance(sub, SubscriptionObject), sub
    assert sub.status is SubscriptionStatus.ACTIVE and sub.customer == customer.id
    assert sub.items.data[0].price.recurring.interval is Interval.MONTH
    invoice = retrieve_invoice.sync(sub.latest_invoice, client=client)
    assert isinstance(invoice, InvoiceObject), invoice
    assert invoice.status is InvoiceStatus.PAID and invoice.amount_paid == 1800
    assert retrieve_subscription.sync(sub.id, client=client).id == sub.id

    # Errors are typed too: an unknown intent, and a refund of more than is left.
    missing = retrieve_payment_intent.sync("pi_doesnotexist", client=client)
    assert isinstance(missing, ErrorBody), missing
    assert missing.error.type_ is ErrorType.INVALID_REQUEST_ERROR
    assert missing.error.code == "resource_missing"
    too_much = create_refund.sync(client=client, body=CreateRefund(payment_intent=pi.id, amount=5000))
    assert isinstance(too_much, ErrorBody) and too_much.error.type_ is ErrorType.INVALID_REQUEST_ERROR
