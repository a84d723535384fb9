// The card form that Pixel (pixel.js, or Paymob's own SDK) embeds in a cross-origin iframe at
// /iframe-card-v2/. Card data is typed only here and goes only to this origin's
// /api/acceptance/payments/pay; the parent page gets validation messages, the frame's height and
// the pay response, never the card number or CVV. Messages to the parent use target origin "*"
// (the merchant's origin is not known here); messages are accepted only from the parent window.
// Needs common.js (window.KassaPM) loaded before it.
(function () {
  "use strict";

  var K = window.KassaPM;
  var framed = window.parent !== window;

  function el(id) {
    return document.getElementById(id);
  }

  var inputs = {
    number: el("card-number"),
    name: el("card-name"),
    expiry: el("card-expiry"),
    cvv: el("card-cvv"),
    save: el("save-card")
  };
  var fieldset = el("card-fields");
  var brand = el("card-brand");
  var nameField = el("field-card-name");
  var saveField = el("field-save-card");

  // Our input ids → the keys of the `errors` message Pixel expects.
  var ERROR_KEYS = {
    "card-number": "cardNumber",
    "card-name": "cardHolderName",
    "card-expiry": "expiryDate",
    "card-cvv": "cvv"
  };
  var FIELDS = Object.keys(ERROR_KEYS);

  // Pixel customStyle keys → CSS custom properties in checkout.css; `px` marks bare numbers as pixels.
  var STYLE_VARS = {
    Font_Family: { vars: ["--font"] },
    Font_Size_Label: { vars: ["--label-size"], px: true },
    Font_Size_Input_Fields: { vars: ["--input-size"], px: true },
    Font_Weight_Label: { vars: ["--label-weight"] },
    Font_Weight_Input_Fields: { vars: ["--input-weight"] },
    Color_Container: { vars: ["--frame-bg"] },
    Color_Border_Input_Fields: { vars: ["--border-strong"] },
    Color_Primary: { vars: ["--accent", "--focus"] },
    Color_Error: { vars: ["--danger"] },
    Color_Input_Fields: { vars: ["--input-bg"] },
    Text_Color_For_Label: { vars: ["--label-color"] },
    Text_Color_For_Input_Fields: { vars: ["--text"] },
    Color_For_Text_Placeholder: { vars: ["--placeholder"] },
    Radius_Border: { vars: ["--radius-small"], px: true }
  };

  // Label_Text / Placeholder_Text keys, compared without case or punctuation.
  var TEXT_TARGETS = {
    cardnumber: "card-number",
    cardholdername: "card-name",
    cardholder: "card-name",
    nameoncard: "card-name",
    expirydate: "card-expiry",
    expiry: "card-expiry",
    expirationdate: "card-expiry",
    cvv: "card-cvv",
    cvc: "card-cvv",
    savecard: "save-card"
  };

  var options = { hideCardHolderName: false, showSaveCard: false, forceSaveCard: false, hideIcons: false };
  var styling = {};
  var errors = {}; // input id → dictionary key or ""
  var shown = {}; // input ids whose error the customer should see
  var submitting = false;
  var lastHeight = 0;

  function post(message) {
    if (framed) window.parent.postMessage(message, "*");
  }

  // ---- validation ----

  function check(id) {
    if (id === "card-number") return K.cardChecks.number(inputs.number.value);
    if (id === "card-name") return options.hideCardHolderName ? "" : K.cardChecks.name(inputs.name.value);
    if (id === "card-expiry") return K.cardChecks.expiry(inputs.expiry.value);
    return K.cardChecks.cvv(inputs.cvv.value, inputs.number.value);
  }

  function paint(id) {
    var text = shown[id] && errors[id] ? K.t(errors[id]) : "";
    var input = el(id);
    var out = el(id + "-error");
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (out.textContent !== text) out.textContent = text;
  }

  // Validates every field, shows the messages the customer should see and tells the parent.
  function report() {
    var messages = {};
    var valid = true;
    FIELDS.forEach(function (id) {
      errors[id] = check(id);
      if (errors[id]) valid = false;
      messages[ERROR_KEYS[id]] = errors[id] ? K.t(errors[id]) : "";
      paint(id);
    });
    post({ errors: messages, shouldDisableActionBtn: !valid });
    reportHeight();
    return valid;
  }

  function updateBrand() {
    K.renderBrand(brand, options.hideIcons ? "" : inputs.number.value);
  }

  function wireField(id, format) {
    var input = el(id);
    input.addEventListener("input", function (e) {
      var deleting = typeof e.inputType === "string" && e.inputType.indexOf("delete") === 0;
      if (format) format(input, deleting);
      report();
    });
    input.addEventListener("blur", function () {
      if (input.value.trim()) {
        shown[id] = true;
        report();
      }
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

  // ---- size ----

  function reportHeight() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === lastHeight) return;
    lastHeight = height;
    post({ iframeCardHight: height });
  }

  // ---- the parent's customStyles ----

  function cssValue(value, px) {
    if (typeof value === "number" && isFinite(value)) return px ? value + "px" : String(value);
    if (typeof value !== "string" || !value.trim()) return "";
    return px && /^\d+(\.\d+)?$/.test(value.trim()) ? value.trim() + "px" : value.trim();
  }

  function eachText(group, apply) {
    if (!group || typeof group !== "object") return;
    Object.keys(group).forEach(function (key) {
      var id = TEXT_TARGETS[key.toLowerCase().replace(/[^a-z]/g, "")];
      if (id && typeof group[key] === "string" && group[key].trim()) apply(id, group[key].trim());
    });
  }

  function applyStyling() {
    var root = document.documentElement;
    Object.keys(STYLE_VARS).forEach(function (key) {
      var spec = STYLE_VARS[key];
      var value = cssValue(styling[key], spec.px);
      spec.vars.forEach(function (name) {
        if (value) root.style.setProperty(name, value);
        else root.style.removeProperty(name);
      });
    });
    eachText(styling.Label_Text, function (id, text) {
      document.querySelector('label[for="' + id + '"]').textContent = text;
    });
    eachText(styling.Placeholder_Text, function (id, text) {
      if (id !== "save-card") el(id).setAttribute("placeholder", text);
    });
  }

  function applyCustomStyles(payload) {
    var o = payload.options && typeof payload.options === "object" ? payload.options : {};
    styling = payload.styling && typeof payload.styling === "object" ? payload.styling : {};
    options.hideCardHolderName = o.hideCardHolderName === true;
    options.showSaveCard = o.showSaveCard === true;
    options.forceSaveCard = o.forceSaveCard === true;
    options.hideIcons = styling.HideCardIcons === true;
    var dir = styling.Direction === "rtl" || styling.Direction === "ltr" ? styling.Direction : "";
    // Pixel's language (the merchant page's, or its own option): this frame was opened in it,
    // and follows if it changes. Applying the words rewrites the default texts, so the
    // merchant's own texts go on after it.
    var code = typeof o.lang === "string" && /^(en|ar|fr|de|es|tr)$/.test(o.lang) ? o.lang : K.lang();
    K.use(code, "", [], dir).then(finishStyles, finishStyles);
  }

  function finishStyles() {
    applyStyling();
    nameField.hidden = options.hideCardHolderName;
    saveField.hidden = !(options.showSaveCard || options.forceSaveCard);
    if (options.forceSaveCard) inputs.save.checked = true;
    inputs.save.disabled = options.forceSaveCard;
    updateBrand();
    report();
  }

  // ---- paying ----

  async function pay(payload) {
    var expiry = K.parseExpiry(inputs.expiry.value);
    var body = {
      source: {
        subtype: "CARD",
        identifier: K.digitsOf(inputs.number.value),
        sourceholder_name: options.hideCardHolderName ? "NA" : inputs.name.value.trim(),
        expiry_month: expiry.month,
        expiry_year: expiry.year,
        cvn: inputs.cvv.value.trim(),
        save_card: payload.saveCard === true || inputs.save.checked
      },
      payment_token: typeof payload.paymentToken === "string" ? payload.paymentToken : "",
      api_source: "PIXEL"
    };
    var res;
    try {
      // Pixel follows a 3-D Secure redirect; the page there keeps this language.
      var response = await fetch("/api/acceptance/payments/pay?lang=" + encodeURIComponent(K.lang()), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body)
      });
      var text = await response.text();
      var data;
      try {
        data = text ? JSON.parse(text) : {};
      } catch (e) {
        data = { message: response.statusText || "Unexpected response" };
      }
      res = { status: response.status, data: data };
    } catch (e) {
      res = { status: 0, data: { message: "Network error" } };
    }
    return res;
  }

  async function onCardData(payload) {
    if (submitting) return;
    FIELDS.forEach(function (id) {
      shown[id] = true;
    });
    if (!report() || payload.shouldSubmitData !== true) return;
    submitting = true;
    fieldset.disabled = true;
    post({ loading: true });
    var res = await pay(payload);
    submitting = false;
    fieldset.disabled = false;
    post({ type: "paymentResponse", response: { res: res, requiresOTP: false } });
    post({ loading: false });
  }

  window.addEventListener("message", function (event) {
    if (!framed || event.source !== window.parent) return;
    var data = event.data;
    if (!data || typeof data !== "object") return;
    var payload = data.payload && typeof data.payload === "object" ? data.payload : {};
    if (data.type === "customStyles") applyCustomStyles(payload);
    else if (data.type === "cardData") onCardData(payload);
  });

  // Enter in a field must not reload the frame.
  el("card-form").addEventListener("submit", function (e) {
    e.preventDefault();
  });

  lastHeight = Math.ceil(document.documentElement.getBoundingClientRect().height);
  post({ type: "isIframeLoaded", iframeCardHight: lastHeight });
  report();
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(reportHeight).observe(document.body);
  } else {
    window.addEventListener("resize", reportHeight);
  }
})();
