'use strict';
// Signs request parameters with the SDK's widget signature (the Cancellation API is signed
// like a widget call). Reads {"params": {...}, "secret": "...", "version": 2 | 3} on stdin and
// prints the signature.
const Paymentwall = require('paymentwall');
const { readJsonStdin } = require('./common');

const input = readJsonStdin();
process.stdout.write(
  Paymentwall.WidgetSignature.calculateSignature(input.params, input.secret, Number(input.version)) + '\n'
);
