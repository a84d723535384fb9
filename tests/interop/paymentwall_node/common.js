'use strict';
// Shared by the scripts here: stdin JSON and the SDK's API type constants.
const fs = require('fs');
const Paymentwall = require('paymentwall');

exports.readJsonStdin = function () {
  return JSON.parse(fs.readFileSync(0, 'utf8'));
};

exports.apiType = function (name) {
  const types = { vc: Paymentwall.Base.API_VC, goods: Paymentwall.Base.API_GOODS, cart: Paymentwall.Base.API_CART };
  if (!(name in types)) { throw new Error('unknown api ' + name); }
  return types[name];
};
