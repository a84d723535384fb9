// Kassa's Paymob-compatible payment status page (/unifiedcheckout/payment-status), shown when the
// merchant gave no redirection URL. The server renders only what it verified (the query's HMAC
// under the transaction's profile) into the data-* attributes of #pm-status, in English; this
// script shows the same in the chosen language. It never reads the query's result itself.
// Needs common.js (window.KassaPM) loaded before it.
(function () {
  "use strict";

  var K = window.KassaPM;
  var box = document.getElementById("pm-status");
  var icon = document.getElementById("status-icon");
  var title = document.getElementById("status-title");
  var text = document.getElementById("status-text");
  var serverMessage = document.getElementById("status-message");
  var details = document.getElementById("status-details");

  function data(name) {
    var v = box.getAttribute("data-" + name);
    return v === null ? "" : v.trim();
  }

  // success, pending, declined, or unverified (nothing signed, or a signature that does not match).
  var status = data("status");
  if (["success", "pending", "declined", "unverified"].indexOf(status) < 0) status = "unverified";

  function row(label, value) {
    if (!value) return;
    var wrap = document.createElement("div");
    var dt = document.createElement("dt");
    dt.textContent = K.t(label);
    var dd = document.createElement("dd");
    dd.textContent = value;
    wrap.appendChild(dt);
    wrap.appendChild(dd);
    details.appendChild(wrap);
  }

  function render() {
    icon.className = "state-icon state-icon-" + status;
    title.textContent = K.t("result_" + status);
    text.textContent = K.t(status + "_default");
    var message = status === "success" || status === "unverified" ? "" : data("message");
    serverMessage.textContent = message;
    serverMessage.hidden = !message;

    details.textContent = "";
    if (status !== "unverified") {
      var amount = data("amount-cents");
      if (/^-?\d+$/.test(amount)) row("status_amount", K.formatAmount(amount, data("currency")));
      row("status_transaction", data("transaction"));
      row("status_order", data("order"));
      row("status_reference", data("reference"));
      row("status_card", data("card"));
    }
    details.hidden = !details.children.length;
  }

  K.setLang(K.detectLang());
  K.setUpLangToggle(document.getElementById("pm-lang"), render);
  render();
})();
