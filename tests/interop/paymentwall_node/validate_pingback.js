'use strict';
// Checks a pingback the way a Node merchant does with the unmodified npm `paymentwall` SDK:
// new Pingback(query, ip).validate(true) — `true` is the SDK's own option to skip its
// Paymentwall IP whitelist (Kassa sends pingbacks from the merchant's own server).
//
// Reads {"api": "goods" | "cart" | "vc", "key": "...", "secret": "...", "query": "raw query
// string", "ip": "..."} on stdin. The query is parsed the way Express's `req.query` has it (the
// README's example): array parameters such as a Cart pingback's `goodsid[0]`, `goodsid[1]`
// become one array `goodsid`, which is what the SDK checks and signs (`goodsid[0]=…`).
// Prints one JSON line:
//   {"valid": true|false, "errors": [...], "type": ..., "deliverable": ..., "cancelable": ...,
//    "unique_id": "...", "valid_without_ip_skip": true|false}
const querystring = require('querystring');
const Paymentwall = require('paymentwall');
const { readJsonStdin, apiType } = require('./common');

// `a[0]=x&a[1]=y&b=z` -> {a: ['x', 'y'], b: 'z'}, as Express's default query parser gives it.
function parseQuery(query) {
  const flat = querystring.parse(query);
  const out = {};
  Object.keys(flat).forEach(function (name) {
    const m = /^([^\[\]]+)\[(\d+)\]$/.exec(name);
    if (m) {
      (out[m[1]] = out[m[1]] || [])[Number(m[2])] = flat[name];
    } else {
      out[name] = flat[name];
    }
  });
  return out;
}

const input = readJsonStdin();
Paymentwall.Configure(apiType(input.api), input.key, input.secret);
const pingback = new Paymentwall.Pingback(parseQuery(input.query), input.ip);
const valid = pingback.validate(true);
const strict = new Paymentwall.Pingback(parseQuery(input.query), input.ip);
process.stdout.write(JSON.stringify({
  valid: valid,
  errors: pingback.getErrors(),
  type: pingback.getType(),
  deliverable: pingback.isDeliverable(),
  cancelable: pingback.isCancelable(),
  unique_id: pingback.getPingbackUniqueId(),
  valid_without_ip_skip: strict.validate(),
}) + '\n');
