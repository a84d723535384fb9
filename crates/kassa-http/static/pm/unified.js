// Kassa's Paymob-compatible Unified Checkout page, served at /unifiedcheckout/?publicKey=&clientSecret=
// (intention mode) and at /api/acceptance/iframes/{id}?payment_token= (legacy iframe mode).
// Loads the payment data, renders one tab per payment method and posts the customer's choice to
// /api/acceptance/payments/pay. Needs common.js (window.KassaPM) loaded before it.
(function () {
  "use strict";

  var K = window.KassaPM;

  function el(id) {
    return document.getElementById(id);
  }

  var ui = {
    card: el("pm-card"),
    summary: el("pm-summary"),
    merchant: el("pm-merchant"),
    testBadge: el("pm-test-badge"),
    amount: el("pm-amount"),
    itemsBox: el("pm-items-box"),
    items: el("pm-items"),
    loading: el("pm-loading"),
    form: el("pm-form"),
    methodsFieldset: el("pm-form").querySelector("fieldset"),
    methods: el("pm-methods"),
    message: el("pm-message"),
    pay: el("pay-button"),
    result: el("pm-result"),
    resultIcon: el("pm-result-icon"),
    resultTitle: el("pm-result-title"),
    resultText: el("pm-result-text"),
    resultNote: el("pm-result-note"),
    billReference: el("bill-reference"),
    billBox: el("bill-reference-box"),
    billCopy: el("bill-copy"),
    billCopyStatus: el("bill-copy-status"),
    billExpiry: el("bill-expiry"),
    cancel: el("pm-cancel"),
    brand: el("card-brand")
  };

  var inputs = {
    number: el("card-number"),
    name: el("card-name"),
    expiry: el("card-expiry"),
    cvv: el("card-cvv"),
    save: el("save-card"),
    phone: el("wallet-phone")
  };

  // The inputs each payment form validates, in the order they appear.
  var FIELDS = {
    CARD: ["card-number", "card-name", "card-expiry", "card-cvv"],
    WALLET: ["wallet-phone"],
    AGGREGATOR: [],
    CASH: []
  };

  var METHOD_LABELS = {
    card: "pm.method_card",
    "card-installment": "pm.method_installments",
    wallet: "pm.method_wallet",
    wallets: "pm.method_wallet",
    kiosk: "pm.method_kiosk",
    cash: "pm.method_cash"
  };

  var SUBTYPE_LABELS = {
    CARD: "pm.method_card",
    WALLET: "pm.method_wallet",
    AGGREGATOR: "pm.method_kiosk",
    CASH: "pm.method_cash"
  };

  // Server-side field names (Django-style error bodies) → our inputs and their display names.
  var SERVER_FIELDS = {
    identifier: { CARD: ["card-number", "card.number"], WALLET: ["wallet-phone", "pm.field_wallet"] },
    sourceholder_name: { CARD: ["card-name", "card.name"] },
    expiry_month: { CARD: ["card-expiry", "card.expiry"] },
    expiry_year: { CARD: ["card-expiry", "card.expiry"] },
    cvn: { CARD: ["card-cvv", "card.cvc"] }
  };

  var state = {
    data: null, // the intention element (or legacy iframe info) JSON
    methods: [], // [{name, key, subtype, token, live, labelKey, plainLabel, tile, radio, text}]
    selected: null,
    fieldErrors: {}, // input id → message
    message: null, // {kind: "error", key, vars} or {kind: "error", text}
    result: null, // {kind: "paid" | "reference" | "success" | "pending", reference, text}
    busy: "", // "" | "processing" | "pm.redirecting"
    urlToken: "" // legacy mode: the payment_token from the address
  };

  // A message is either a dictionary key (translated on every render) or server text (shown as is).
  function say(m) {
    if (m.decline) return K.declineText(m.decline, "pm.declined_default");
    return m.text !== undefined ? m.text : K.t(m.key, m.vars);
  }

  function textOrKey(text, key) {
    return text ? { text: text } : { key: key };
  }

  function humanize(name) {
    var s = String(name).replace(/[-_]+/g, " ").trim();
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function nonEmptyString(v) {
    return typeof v === "string" && v.trim() ? v.trim() : "";
  }

  // The name payers see: the profile's display name the server rendered in (its branding, else
  // the merchant's), else the intention's merchant name.
  function merchantName(data) {
    return (
      nonEmptyString(ui.merchant.getAttribute("data-display-name")) ||
      nonEmptyString(data.merchant_name) ||
      nonEmptyString(data.merchant_company_name)
    );
  }

  function isTrue(v) {
    return v === true || v === "true";
  }

  // ---- network ----

  async function requestJson(url, init) {
    var res = await fetch(url, init);
    var text = await res.text();
    var body = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = null; // an HTML error page from a proxy: nothing worth showing
      }
    }
    return { ok: res.ok, status: res.status, body: body };
  }

  function dataUrl() {
    var params = new URLSearchParams(window.location.search);
    var legacy = /^\/api\/acceptance\/iframes\/([^/]+)\/?$/.exec(window.location.pathname);
    if (legacy && params.get("payment_token")) {
      state.urlToken = params.get("payment_token");
      return "/api/acceptance/iframes/" + legacy[1] + "/info?payment_token=" + encodeURIComponent(state.urlToken);
    }
    var publicKey = params.get("publicKey");
    var clientSecret = params.get("clientSecret");
    if (publicKey && clientSecret) {
      return "/v1/intention/element/" + encodeURIComponent(publicKey) + "/" + encodeURIComponent(clientSecret) + "/";
    }
    return "";
  }

  // The readable part of an error body: {"message"|"detail"|"msg": …} or a list of strings.
  function errorText(body) {
    if (Array.isArray(body)) {
      return body.filter(function (x) { return typeof x === "string"; }).join(" ");
    }
    if (!body || typeof body !== "object") return "";
    var keys = ["message", "detail", "msg"];
    for (var i = 0; i < keys.length; i++) {
      var v = body[keys[i]];
      if (typeof v === "string" && v.trim()) return v.trim();
      if (Array.isArray(v)) {
        var parts = v.map(function (x) {
          return typeof x === "string" ? x : x && typeof x.msg === "string" ? x.msg : "";
        }).filter(Boolean);
        if (parts.length) return parts.join(" ");
      }
    }
    // A refused payment may still come back shaped as a transaction.
    return body.data && typeof body.data.message === "string" ? body.data.message.trim() : "";
  }

  // Flattens a Django-style body such as {"source": {"identifier": ["…"]}} into [{field, text}].
  // Only lists hold messages, so the plain string fields of other bodies are not mistaken for them.
  function fieldErrors(body, out) {
    Object.keys(body).forEach(function (field) {
      var v = body[field];
      if (Array.isArray(v)) {
        v.forEach(function (x) {
          if (typeof x === "string") out.push({ field: field, text: x });
          else if (x && typeof x === "object") fieldErrors(x, out);
        });
      } else if (v && typeof v === "object") {
        fieldErrors(v, out);
      }
    });
    return out;
  }

  // ---- loading ----

  function subtypeOf(method) {
    var explicit = String(method.subtype || "").toUpperCase();
    if (explicit) return FIELDS[explicit] ? explicit : "";
    // Plain Paymob element data has no subtype: infer it from the method's name.
    var n = String(method.name || "").toLowerCase();
    if (n.indexOf("card") >= 0) return "CARD";
    if (n.indexOf("wallet") >= 0) return "WALLET";
    if (n.indexOf("kiosk") >= 0 || n.indexOf("aggregator") >= 0) return "AGGREGATOR";
    if (n.indexOf("cash") >= 0) return "CASH";
    return "";
  }

  function usableMethods(data) {
    var keys = data.payment_keys && typeof data.payment_keys === "object" ? data.payment_keys : {};
    var list = Array.isArray(data.payment_methods) ? data.payment_methods : [];
    var methods = [];
    list.forEach(function (pm) {
      if (!pm || typeof pm.name !== "string") return;
      var key = pm.name.toLowerCase();
      var subtype = subtypeOf(pm);
      var token = typeof keys[key] === "string" && keys[key] ? keys[key] : state.urlToken;
      if (!subtype || !token) return;
      methods.push({ name: pm.name, key: key, subtype: subtype, token: token, live: pm.live });
    });
    methods.forEach(function (m) {
      m.labelKey = METHOD_LABELS[m.key] || SUBTYPE_LABELS[m.subtype];
    });
    // Two methods that would read the same (two card integrations, say) show their own names.
    methods.forEach(function (m) {
      var clash = methods.some(function (o) { return o !== m && o.labelKey === m.labelKey; });
      m.plainLabel = clash ? humanize(m.name) : "";
    });
    return methods;
  }

  async function load() {
    var url = dataUrl();
    if (!url) {
      stopLoading();
      setMessage({ kind: "error", key: "pm.incomplete_link" });
      return;
    }
    var res;
    try {
      res = await requestJson(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (e) {
      stopLoading();
      setMessage({ kind: "error", key: "pm.network" });
      return;
    }
    stopLoading();
    if (!res.ok || !res.body || typeof res.body !== "object" || Array.isArray(res.body)) {
      setMessage(Object.assign({ kind: "error" }, textOrKey(errorText(res.body), "pm.load_error")));
      return;
    }
    state.data = res.body;
    await loadAmounts();
    ui.summary.hidden = false;
    if (isTrue(state.data.paid)) {
      renderTexts();
      showResult({ kind: "paid" });
      return;
    }
    state.methods = usableMethods(state.data);
    if (!state.methods.length) {
      renderTexts();
      setMessage({ kind: "error", key: "pm.no_methods" });
      return;
    }
    prefill(state.data.client_info);
    buildMethodTiles();
    ui.form.hidden = false;
    ui.pay.hidden = false;
    select(state.methods[0]);
  }

  // The amounts this page shows, as the server writes them in the page's language.
  function amountsWanted() {
    var detail = (state.data && state.data.intention_detail) || {};
    var minors = [detail.amount];
    (Array.isArray(detail.items) ? detail.items : []).forEach(function (item) {
      if (item && item.amount !== undefined) minors.push(item.amount);
    });
    return { currency: String(detail.currency || ""), minors: minors };
  }

  async function loadAmounts() {
    var need = amountsWanted();
    try {
      await K.load(K.lang(), need.currency, need.minors);
    } catch (e) {
      // Unreachable for a moment: the bare figures are shown instead.
    }
  }

  function stopLoading() {
    ui.loading.hidden = true;
    ui.card.removeAttribute("aria-busy");
  }

  // Egyptian wallets want the local form 01XXXXXXXXX; offer the customer's number when it fits.
  function prefill(client) {
    if (!client || typeof client.phone_number !== "string") return;
    var compact = client.phone_number.replace(/[\s-]/g, "");
    var m = /^(?:\+?20|0)?(1\d{9})$/.exec(compact);
    if (m && !inputs.phone.value) inputs.phone.value = "0" + m[1];
  }

  // ---- rendering ----

  function buildMethodTiles() {
    ui.methods.textContent = "";
    state.methods.forEach(function (m, i) {
      var tile = document.createElement("label");
      tile.className = "method";
      tile.setAttribute("data-method", m.name);
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "pm-method";
      radio.value = String(i);
      radio.className = "method-radio";
      radio.addEventListener("change", function () {
        if (radio.checked) select(m);
      });
      var icon = document.createElement("span");
      icon.className = "method-icon method-icon-" + m.subtype.toLowerCase();
      icon.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.className = "method-name";
      tile.appendChild(radio);
      tile.appendChild(icon);
      tile.appendChild(text);
      ui.methods.appendChild(tile);
      m.tile = tile;
      m.radio = radio;
      m.text = text;
    });
  }

  function select(method) {
    state.selected = method;
    state.methods.forEach(function (m) {
      var on = m === method;
      m.radio.checked = on;
      m.tile.classList.toggle("is-selected", on);
    });
    Object.keys(FIELDS).forEach(function (subtype) {
      el("panel-" + subtype).hidden = subtype !== method.subtype;
    });
    if (state.message && state.message.kind === "error") setMessage(null);
    renderTexts();
  }

  function amountText() {
    var detail = (state.data && state.data.intention_detail) || {};
    return K.formatAmount(detail.amount, detail.currency);
  }

  function payLabel() {
    var m = state.selected;
    if (state.busy === "processing") return K.t("common.processing");
    if (state.busy === "pm.redirecting") return K.t("pm.redirecting");
    if (m && m.subtype === "AGGREGATOR") return K.t("pm.get_reference");
    if (m && m.subtype === "CASH") return K.t("pm.pay_cash");
    return K.t("common.pay_amount", { amount: amountText() });
  }

  // Everything that depends on the language; runs after every state change and language switch.
  function renderTexts() {
    var data = state.data;
    if (data) {
      var detail = data.intention_detail || {};
      var merchant = merchantName(data);
      ui.merchant.textContent = merchant;
      document.title = merchant ? K.t("pm.title_checkout") + " \u00b7 " + merchant : K.t("pm.title_checkout");
      ui.amount.textContent = amountText();
      renderItems(Array.isArray(detail.items) ? detail.items : [], detail.currency);
    }
    ui.testBadge.hidden = !(state.selected && state.selected.live === false);
    renderCancel();
    state.methods.forEach(function (m) {
      m.text.textContent = m.plainLabel || K.t(m.labelKey);
    });
    ui.pay.textContent = payLabel();
    Object.keys(state.fieldErrors).forEach(paintFieldError);
    renderMessage();
    renderResult();
  }

  // "Cancel and return to the shop" while paying, "Back to the shop" once there is a result:
  // wherever the intention has a redirection URL.
  function renderCancel() {
    var data = state.data || {};
    var url = nonEmptyString(data.redirection_url) || nonEmptyString(data.redirect_url);
    var merchant = merchantName(data);
    var ok = /^https?:\/\//i.test(url);
    ui.cancel.hidden = !ok || state.busy === "redirecting";
    if (!ok) return;
    ui.cancel.setAttribute("href", url);
    var key = state.result ? "common.back_to_shop" : "common.cancel_and_return";
    ui.cancel.textContent = merchant ? K.t(key, { merchant: merchant }) : K.t("pm.back_to_merchant");
  }

  function renderItems(items, currency) {
    ui.items.textContent = "";
    items.forEach(function (item) {
      if (!item || typeof item.name !== "string") return;
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.className = "item-name";
      name.textContent = item.name;
      li.appendChild(name);
      if (Number(item.quantity) > 1) {
        var qty = document.createElement("span");
        qty.className = "item-qty";
        qty.textContent = K.t("common.quantity", { quantity: Number(item.quantity) });
        li.appendChild(qty);
      }
      var amount = document.createElement("span");
      amount.className = "item-amount";
      amount.textContent = K.formatAmount(item.amount, currency);
      li.appendChild(amount);
      ui.items.appendChild(li);
    });
    ui.itemsBox.hidden = !ui.items.children.length;
  }

  function setMessage(m) {
    state.message = m;
    renderMessage();
  }

  function renderMessage() {
    var m = state.message;
    var text = m ? say(m) : "";
    ui.message.hidden = !text;
    ui.message.className = "message" + (m ? " message-" + m.kind : "");
    if (ui.message.textContent !== text) ui.message.textContent = text;
  }

  // A decline shown here (no page to go to) or a refusal: the message takes the focus, so it is
  // read and seen first; everything the payer typed stays (after a decline, all but the CVV).
  function refuse(m, declined) {
    setMessage(m);
    if (declined && state.selected && state.selected.subtype === "CARD") inputs.cvv.value = "";
    ui.message.setAttribute("tabindex", "-1");
    ui.message.focus();
  }

  function showResult(r) {
    state.result = r;
    ui.form.hidden = true;
    ui.pay.hidden = true;
    setMessage(null);
    renderResult();
    renderCancel();
    ui.resultTitle.focus();
  }

  function renderResult() {
    var r = state.result;
    ui.result.hidden = !r;
    if (!r) return;
    var icon = { paid: "success", success: "success", pending: "pending", reference: "reference" }[r.kind];
    ui.resultIcon.className = "state-icon state-icon-" + icon;
    ui.billBox.hidden = r.kind !== "reference";
    ui.resultNote.hidden = r.kind !== "reference";
    if (r.kind === "paid") {
      ui.resultTitle.textContent = K.t("pm.already_paid_title");
      ui.resultText.textContent = K.t("pm.already_paid");
    } else if (r.kind === "reference") {
      ui.resultTitle.textContent = K.t("pm.ref_title");
      ui.billReference.textContent = groupDigits(r.reference);
      ui.billExpiry.hidden = !r.expires;
      if (r.expires) ui.billExpiry.textContent = K.t("common.pay_before", { date: formatDate(r.expires) });
      ui.resultText.textContent = K.t("pm.ref_instructions");
      ui.resultNote.textContent = K.t("pm.ref_amount", { amount: amountText() }) + "\n" + K.t("pm.ref_note");
    } else if (r.kind === "success") {
      ui.resultTitle.textContent = K.t("pm.result_success");
      ui.resultText.textContent = r.text || K.t("pm.success_default");
    } else {
      ui.resultTitle.textContent = K.t("pm.result_pending");
      ui.resultText.textContent = r.text || K.t("pm.pending_default");
    }
  }

  // "123456789012" → "1234 5678 9012": easier to read out at a kiosk.
  function groupDigits(ref) {
    var v = String(ref).replace(/\s+/g, "");
    return /^\d+$/.test(v) ? v.replace(/(\d{4})(?=\d)/g, "$1 ") : v;
  }

  function formatDate(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    try {
      return new Intl.DateTimeFormat(K.lang(), { dateStyle: "medium", timeStyle: "short" }).format(d);
    } catch (e) {
      return d.toLocaleString();
    }
  }

  // Copy: the clipboard API where the page may use it; else the number is selected for the
  // payer's own Copy command. Either way the outcome is announced.
  function copyReference() {
    var raw = String((state.result && state.result.reference) || "");
    function selected() {
      var range = document.createRange();
      range.selectNodeContents(ui.billReference);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      ui.billCopyStatus.textContent = K.t("pm.ref_copy_hint");
    }
    if (navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
      navigator.clipboard.writeText(raw).then(function () {
        ui.billCopyStatus.textContent = K.t("common.copied");
      }, selected);
    } else {
      selected();
    }
  }

  ui.billCopy.addEventListener("click", copyReference);

  // ---- fields ----

  function check(id) {
    var v = el(id).value;
    if (id === "card-number") return K.cardChecks.number(v);
    if (id === "card-name") return K.cardChecks.name(v);
    if (id === "card-expiry") return K.cardChecks.expiry(v);
    if (id === "card-cvv") return K.cardChecks.cvv(v, inputs.number.value);
    return K.walletError(v);
  }

  function paintFieldError(id) {
    var input = el(id);
    var out = el(id + "-error");
    var m = state.fieldErrors[id];
    var text = m ? say(m) : "";
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    // Writing the same text again would make screen readers repeat it.
    if (out.textContent !== text) out.textContent = text;
  }

  function validate(id) {
    var key = check(id);
    if (key) state.fieldErrors[id] = { key: key };
    else delete state.fieldErrors[id];
    paintFieldError(id);
    return !key;
  }

  function updateBrand() {
    K.renderBrand(ui.brand, inputs.number.value);
  }

  function wireField(id, format) {
    var input = el(id);
    input.addEventListener("input", function (e) {
      var deleting = typeof e.inputType === "string" && e.inputType.indexOf("delete") === 0;
      if (format) format(input, deleting);
      // Clear a shown error as soon as the field is right; do not nag while typing.
      if (state.fieldErrors[id]) validate(id);
    });
    input.addEventListener("blur", function () {
      if (input.value.trim() || state.fieldErrors[id]) validate(id);
    });
  }

  wireField("card-number", function (input) {
    K.formatCardNumberInput(input);
    updateBrand();
  });
  wireField("card-name");
  wireField("card-expiry", K.formatExpiryInput);
  wireField("card-cvv", function (input) {
    var digits = K.digitsOf(input.value).slice(0, 4);
    if (digits !== input.value) input.value = digits;
  });
  wireField("wallet-phone");

  // ---- paying ----

  function sourceFor(method) {
    if (method.subtype === "CARD") {
      var expiry = K.parseExpiry(inputs.expiry.value);
      return {
        subtype: "CARD",
        identifier: K.digitsOf(inputs.number.value),
        sourceholder_name: inputs.name.value.trim(),
        expiry_month: expiry.month,
        expiry_year: expiry.year,
        cvn: inputs.cvv.value.trim(),
        save_card: inputs.save.checked
      };
    }
    if (method.subtype === "WALLET") {
      return { subtype: "WALLET", identifier: inputs.phone.value.replace(/[\s-]/g, "") };
    }
    if (method.subtype === "AGGREGATOR") return { subtype: "AGGREGATOR", identifier: "AGGREGATOR" };
    return { subtype: "CASH", identifier: "cash" };
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.pay.disabled = !!busy;
    ui.methodsFieldset.disabled = !!busy;
    if (busy) ui.pay.setAttribute("aria-busy", "true");
    else ui.pay.removeAttribute("aria-busy");
    ui.pay.textContent = payLabel();
    renderCancel();
  }

  async function pay() {
    var method = state.selected;
    if (state.busy || !method) return;
    var firstBad = null;
    FIELDS[method.subtype].forEach(function (id) {
      if (!validate(id) && !firstBad) firstBad = el(id);
    });
    if (firstBad) {
      setMessage({ kind: "error", key: "pm.fix_fields" });
      firstBad.focus();
      return;
    }
    setMessage(null);
    setBusy("processing");
    var res;
    try {
      // The page's language goes along, so the 3-D Secure, wallet and status pages keep it.
      res = await requestJson("/api/acceptance/payments/pay?lang=" + encodeURIComponent(K.lang()), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ source: sourceFor(method), payment_token: method.token, api_source: "UNIFIED_CHECKOUT" })
      });
    } catch (e) {
      setBusy("");
      setMessage({ kind: "error", key: "pm.network" });
      return;
    }
    if (res.ok) handleTransaction(res.body && typeof res.body === "object" ? res.body : {});
    else handleRefusal(res.status, res.body);
  }

  function handleTransaction(txn) {
    var data = txn.data && typeof txn.data === "object" ? txn.data : {};
    var reference = data.bill_reference;
    if (reference !== undefined && reference !== null && String(reference).trim() !== "") {
      setBusy("");
      showResult({
        kind: "reference",
        reference: String(reference).trim(),
        expires: nonEmptyString(data.bill_reference_expires_at)
      });
      return;
    }
    // A 3-D Secure page, a wallet's OTP page, or the merchant's signed return URL.
    var target = nonEmptyString(txn.redirect_url) || nonEmptyString(txn.redirection_url);
    if (target) {
      setBusy("pm.redirecting");
      window.location.assign(target);
      return;
    }
    var text = nonEmptyString(data.message);
    setBusy("");
    if (isTrue(txn.success)) showResult({ kind: "success", text: text });
    else if (isTrue(txn.pending)) showResult({ kind: "pending", text: text });
    else refuse({ kind: "error", decline: data }, true);
  }

  function handleRefusal(status, body) {
    setBusy("");
    var text = errorText(body);
    if (!text && body && typeof body === "object" && !Array.isArray(body)) {
      var subtype = state.selected.subtype;
      var parts = fieldErrors(body, []).map(function (fe) {
        var known = SERVER_FIELDS[fe.field] && SERVER_FIELDS[fe.field][subtype];
        if (known) {
          state.fieldErrors[known[0]] = { text: fe.text };
          paintFieldError(known[0]);
          return K.t(known[1]) + ": " + fe.text;
        }
        var label = fe.field === "payment_token" ? K.t("pm.field_payment_token") : humanize(fe.field);
        return label + ": " + fe.text;
      });
      text = parts.join(" ");
    }
    var fallback = status === 401 ? "pm.session" : status === 403 ? "pm.retries" : "pm.generic";
    refuse(Object.assign({ kind: "error" }, textOrKey(text, fallback)));
  }

  ui.form.addEventListener("submit", function (e) {
    e.preventDefault();
    pay();
  });

  // Coming back with the Back button may restore this page, mid-redirect, from the cache.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && state.busy) setBusy("");
  });

  K.setUpLangLinks(document.querySelector(".langs"), amountsWanted, renderTexts);
  load();
})();
