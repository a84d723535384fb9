'use strict';
// Builds a payment link with the unmodified npm `paymentwall` SDK and prints it.
//
// Reads one JSON object on stdin:
//   {"base": "http://127.0.0.1:PORT/api",        // the SDK's WIDGET_BASE_URL, set at run time
//    "api": "goods" | "cart" | "vc", "key": "...", "secret": "...",
//    "uid": "...", "widget": "p1_1",
//    "products": [{"id", "amount", "currency", "name", "type": "fixed" | "subscription",
//                  "period_length", "period_type", "recurring", "trial": {…same fields…}}],
//    "extra": {...}}                                 // extra widget parameters
// Prints the URL from Widget.getUrl() on stdout.
const Paymentwall = require('paymentwall');
const { readJsonStdin, apiType } = require('./common');

function product(p) {
  if (!p) { return undefined; }
  return new Paymentwall.Product(
    p.id,
    p.amount,
    p.currency,
    p.name,
    p.type === 'subscription' ? Paymentwall.Product.TYPE_SUBSCRIPTION : Paymentwall.Product.TYPE_FIXED,
    p.period_length,
    p.period_type,
    p.recurring,
    product(p.trial)
  );
}

const input = readJsonStdin();
Paymentwall.Configure(apiType(input.api), input.key, input.secret);
// The only change from talking to Paymentwall: where the widget lives.
Paymentwall.Configure.prototype.WIDGET_BASE_URL = input.base;
const widget = new Paymentwall.Widget(
  input.uid,
  input.widget || 'p1_1',
  (input.products || []).map(product),
  input.extra || {}
);
const url = widget.getUrl();
if (widget.getErrors().length) {
  process.stderr.write(widget.getErrorSummary() + '\n');
  process.exit(1);
}
process.stdout.write(url + '\n');
