// Kassa's Paymob-compatible payment status page (/unifiedcheckout/payment-status), shown when the
// merchant gave no redirection URL. It reads the flattened transaction from the query string
// (success, pending, amount_cents, currency, id, order, data.message, source_data.*, …).
// Needs common.js (window.KassaPM) loaded before it.
(function () {
  "use strict";

  var K = window.KassaPM;
  var q = new URLSearchParams(window.location.search);
  var box = document.getElementById("pm-status");
  var icon = document.getElementById("status-icon");
  var title = document.getElementById("status-title");
  var text = document.getElementById("status-text");
  var serverMessage = document.getElementById("status-message");
  var details = document.getElementById("status-details");

  function param(name) {
    var v = q.get(name);
    return v === null ? "" : v.trim();
  }

  // Paymob's rules: success=true is paid; otherwise pending=true is pending; otherwise declined.
  // A page opened without a result at all says so and counts as pending.
  var missing = q.get("success") === null && q.get("pending") === null;
  var status = param("success") === "true" ? "success" : param("pending") === "true" || missing ? "pending" : "declined";

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
    box.setAttribute("data-status", status);
    icon.className = "state-icon state-icon-" + status;
    title.textContent = K.t("result_" + status);
    text.textContent = missing ? K.t("status_missing") : K.t(status + "_default");
    // The processor's own words ("Approved", "Do not honor") add little to a success.
    var message = status === "success" ? "" : param("data.message");
    serverMessage.textContent = message;
    serverMessage.hidden = !message;

    details.textContent = "";
    var amount = param("amount_cents");
    if (/^-?\d+$/.test(amount)) row("status_amount", K.formatAmount(amount, param("currency")));
    row("status_transaction", param("id"));
    row("status_order", param("order"));
    row("status_reference", param("merchant_order_id"));
    if (param("source_data.type") === "card" && param("source_data.pan")) {
      row("status_card", (param("source_data.sub_type") + " \u2022\u2022\u2022\u2022 " + param("source_data.pan")).trim());
    }
    details.hidden = !details.children.length;
  }

  K.setLang(K.detectLang());
  K.setUpLangToggle(document.getElementById("pm-lang"), render);
  render();
})();
