// Kassa's one card-field script, loaded by every payer page that takes a card (native checkout,
// the Paymentwall-compatible page, Paymob Unified Checkout and the card frame Pixel embeds) and
// by every payer form page for the shared decline behaviour. Progressive enhancement only: the
// forms work without it and the server checks everything again. It sends nothing anywhere.
//
// window.KassaCard:
//   digitsOf, luhnValid, brandOf(digits) -> {id, name, cvc} | null, groupCardNumber(digits),
//   formatNumberInput(input), formatExpiryInput(input, deleting, separator),
//   parseExpiry(value) -> {month, year} | null, check.{number, expiry, cvc}(…) -> "" | reason,
//   renderBrand(el, digits), enhance(form).
// Server-rendered forms marked `data-kassa-card` are enhanced on load: the fields are found by
// their autocomplete tokens (cc-number, cc-exp, cc-csc, cc-name); messages go into the element
// named by the field's id + "-error". An element marked `data-kassa-focus` (the decline alert)
// takes the focus on load; a form's `data-kassa-url` (its page's own path) replaces the address
// of a page that answered the form's POST.
(function () {
  "use strict";

  function digitsOf(s) {
    return String(s).replace(/\D/g, "");
  }

  function luhnValid(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return sum % 10 === 0;
  }

  // For display only; the server decides what it accepts. Order matters: Meeza and Maestro
  // ranges sit inside Mastercard-looking prefixes, Discover's co-branded range inside UnionPay's.
  var BRANDS = [
    { id: "meeza", name: "Meeza", re: /^5078(0[3-9]|1)/, cvc: 3 },
    { id: "maestro", name: "Maestro", re: /^(5018|5020|5038|6304|6759|676[1-3])/, cvc: 3 },
    { id: "amex", name: "Amex", re: /^3[47]/, cvc: 4 },
    { id: "visa", name: "Visa", re: /^4/, cvc: 3 },
    { id: "mastercard", name: "Mastercard", re: /^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/, cvc: 3 },
    { id: "discover", name: "Discover", re: /^(6011|64[4-9]|65|622(12[6-9]|1[3-9]\d|[2-8]\d\d|9[01]\d|92[0-5]))/, cvc: 3 },
    { id: "jcb", name: "JCB", re: /^35(2[89]|[3-8])/, cvc: 3 },
    { id: "unionpay", name: "UnionPay", re: /^62/, cvc: 3 }
  ];

  function brandOf(digits) {
    var d = digitsOf(digits);
    for (var i = 0; i < BRANDS.length; i++) {
      if (BRANDS[i].re.test(d)) return BRANDS[i];
    }
    return null;
  }

  // Amex is grouped 4-6-5, everything else in fours.
  function groupCardNumber(digits) {
    if (/^3[47]/.test(digits)) {
      return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10, 15)].filter(Boolean).join(" ");
    }
    return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  function formatNumberInput(input) {
    var caretDigits = digitsOf(input.value.slice(0, input.selectionStart || 0)).length;
    var all = digitsOf(input.value);
    var formatted = groupCardNumber(all.slice(0, /^3[47]/.test(all) ? 15 : 19));
    if (formatted === input.value) return;
    input.value = formatted;
    if (document.activeElement !== input) return;
    // Keep the caret after the same number of digits as before the spaces moved.
    var pos = 0;
    var seen = 0;
    while (pos < formatted.length && seen < caretDigits) {
      if (formatted.charAt(pos) !== " ") seen++;
      pos++;
    }
    input.setSelectionRange(pos, pos);
  }

  // Normalises typing, pasting and autofill ("1/29", "12/2029", "1229") to "MM<sep>YY".
  function formatExpiryInput(input, deleting, separator) {
    var sep = separator || "/";
    var raw = input.value;
    var full = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(raw);
    var out;
    if (full) {
      out = ("0" + full[1]).slice(-2) + sep + full[2].slice(-2);
    } else if (/^\s*\d\s*\/\s*$/.test(raw)) {
      // "1/" means January.
      out = "0" + digitsOf(raw) + sep;
    } else {
      var d = digitsOf(raw).slice(0, 4);
      // A first digit above 1 can only be a one-digit month.
      if (d.length === 1 && d > "1") d = "0" + d;
      if (d.length > 2) out = d.slice(0, 2) + sep + d.slice(2);
      else if (d.length === 2 && !deleting) out = d + sep;
      else out = d;
    }
    if (out !== raw) input.value = out;
  }

  // "MM/YY", "MM / YY", "MMYY" or "MM/YYYY" → {month: 1..12, year: 4 digits}, or null.
  function parseExpiry(value) {
    var compact = String(value).replace(/\s/g, "");
    var m = /^(\d{1,2})\/(\d{2}|\d{4})$/.exec(compact) || /^(\d{2})(\d{2}|\d{4})$/.exec(compact);
    if (!m) return null;
    var month = parseInt(m[1], 10);
    var year = parseInt(m[2], 10);
    if (m[2].length === 2) year += 2000;
    if (month < 1 || month > 12 || year > 2099) return null;
    return { month: month, year: year };
  }

  // Each check returns "" (fine) or a reason the page turns into words in its own language.
  var check = {
    number: function (value) {
      var v = String(value).trim();
      if (!v) return "required";
      var d = digitsOf(v);
      if (/[^\d\s-]/.test(v) || d.length < 12 || d.length > 19) return "invalid";
      if (/^3[47]/.test(d) && d.length !== 15) return "invalid";
      if (!luhnValid(d)) return "luhn";
      return "";
    },
    expiry: function (value, now) {
      if (!String(value).trim()) return "required";
      var e = parseExpiry(value);
      if (!e) return "format";
      var at = now || new Date();
      var y = at.getFullYear();
      // A card is valid through the end of its expiry month.
      if (e.year < y || (e.year === y && e.month < at.getMonth() + 1)) return "past";
      return "";
    },
    cvc: function (value, number) {
      var v = String(value).trim();
      if (!v) return "required";
      var d = digitsOf(number || "");
      if (/^3[47]/.test(d)) return /^\d{4}$/.test(v) ? "" : "amex";
      return /^\d{3,4}$/.test(v) ? "" : "invalid";
    }
  };

  // ---- brand marks: small drawings of Kassa's own, built as SVG (no image requests) ----

  var SVG = "http://www.w3.org/2000/svg";

  function node(name, attrs, text) {
    var n = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) {
      n.setAttribute(k, attrs[k]);
    });
    if (text) n.textContent = text;
    return n;
  }

  function word(text, fill, size, extra) {
    var attrs = {
      x: "19", y: "15.5", "text-anchor": "middle", fill: fill,
      "font-family": "Arial, Helvetica, sans-serif", "font-weight": "700", "font-size": size
    };
    Object.keys(extra || {}).forEach(function (k) { attrs[k] = extra[k]; });
    return node("text", attrs, text);
  }

  function drawMark(svg, id, name) {
    var r = { x: "0.5", y: "0.5", width: "37", height: "23", rx: "3.5" };
    function bg(fill, stroke) {
      var a = Object.assign({ fill: fill }, r);
      if (stroke) a.stroke = stroke;
      svg.appendChild(node("rect", a));
    }
    if (id === "visa") {
      bg("#1a1f71");
      svg.appendChild(word("VISA", "#ffffff", "10.5", { "font-style": "italic", "letter-spacing": "0.5" }));
    } else if (id === "mastercard") {
      bg("#ffffff", "#c9ced8");
      svg.appendChild(node("circle", { cx: "15", cy: "12", r: "7", fill: "#e3202b" }));
      svg.appendChild(node("circle", { cx: "23", cy: "12", r: "7", fill: "#f59c1a", "fill-opacity": "0.9" }));
    } else if (id === "amex") {
      bg("#1f72cd");
      svg.appendChild(word("AMEX", "#ffffff", "9.5", { "letter-spacing": "0.4" }));
    } else if (id === "discover") {
      bg("#ffffff", "#c9ced8");
      svg.appendChild(node("circle", { cx: "28.5", cy: "16.5", r: "4", fill: "#f47a20" }));
      svg.appendChild(word("DISCOVER", "#191c22", "6.2", { x: "17", y: "11" }));
    } else {
      bg("#ffffff", "#8a93a3");
      svg.appendChild(word(name, "#191c22", name.length > 6 ? "6" : "7.5"));
    }
  }

  // Shows the mark of the brand the digits belong to in `el` (or hides it).
  function renderBrand(el, digits) {
    if (!el) return null;
    var brand = brandOf(digits);
    var id = brand ? brand.id : "";
    if (el.getAttribute("data-brand") === id && (id === "") === el.hidden) return brand;
    el.textContent = "";
    el.setAttribute("data-brand", id);
    el.hidden = !brand;
    if (!brand) {
      el.removeAttribute("aria-label");
      return null;
    }
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", brand.name);
    el.setAttribute("title", brand.name);
    var svg = node("svg", { viewBox: "0 0 38 24", width: "38", height: "24", "aria-hidden": "true", focusable: "false" });
    drawMark(svg, brand.id, brand.name);
    el.appendChild(svg);
    return brand;
  }

  // ---- server-rendered card forms (native checkout, Paymentwall) ----

  var MESSAGES = {
    number: {
      required: "Enter your card number.",
      invalid: "This card number is not valid.",
      luhn: "This card number is incorrect. Check it and try again."
    },
    expiry: {
      required: "Enter the expiry date.",
      format: "Enter the expiry date as MM / YY.",
      past: "This card has expired."
    },
    cvc: {
      required: "Enter the security code.",
      invalid: "Enter the 3- or 4-digit security code.",
      amex: "Enter the 4-digit code on the front of the card."
    },
    name: {
      long: "The name is too long."
    }
  };

  // A page in another language puts its translations in
  // <script type="application/json" id="kassa-card-messages">{"number_required": "…", …}</script>
  // (keys: kind + "_" + reason); English is the fallback.
  var translated = null;
  function message(kind, reason) {
    if (translated === null) {
      translated = {};
      var el = document.getElementById("kassa-card-messages");
      if (el) {
        try {
          translated = JSON.parse(el.textContent) || {};
        } catch (e) {
          translated = {};
        }
      }
    }
    return translated[kind + "_" + reason] || MESSAGES[kind][reason];
  }

  function enhance(form) {
    if (form.getAttribute("data-kassa-enhanced")) return;
    form.setAttribute("data-kassa-enhanced", "1");
    function field(token) {
      return form.querySelector('input[autocomplete="' + token + '"]');
    }
    var number = field("cc-number");
    var exp = field("cc-exp");
    var cvc = field("cc-csc");
    var name = field("cc-name");
    if (!number) return;
    var sep = form.getAttribute("data-kassa-exp-separator") || " / ";
    var brandEl = form.querySelector("[data-kassa-brand]");

    var rules = [
      { input: number, kind: "number", run: function () { return check.number(number.value); } },
      { input: exp, kind: "expiry", run: function () { return check.expiry(exp.value); } },
      { input: cvc, kind: "cvc", run: function () { return check.cvc(cvc.value, number.value); } },
      { input: name, kind: "name", run: function () { return name.value.trim().length > 100 ? "long" : ""; } }
    ].filter(function (r) { return r.input; });

    function show(rule, reason) {
      var input = rule.input;
      var text = reason ? message(rule.kind, reason) : "";
      var out = document.getElementById(input.id + "-error");
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      // Writing the same text again would make screen readers repeat it.
      if (out && out.textContent !== text) out.textContent = text;
    }

    function validate(rule) {
      var reason = rule.run();
      show(rule, reason);
      return reason;
    }

    // Our own messages replace the browser's bubbles; the server checks again regardless.
    form.noValidate = true;
    renderBrand(brandEl, number.value);

    rules.forEach(function (rule) {
      var input = rule.input;
      input.addEventListener("input", function (e) {
        var deleting = typeof e.inputType === "string" && e.inputType.indexOf("delete") === 0;
        if (input === number) {
          formatNumberInput(input);
          renderBrand(brandEl, input.value);
        } else if (input === exp) {
          formatExpiryInput(input, deleting, sep);
        } else if (input === cvc) {
          var c = digitsOf(input.value).slice(0, 4);
          if (c !== input.value) input.value = c;
        }
        // Clear a shown error as soon as the field is right; do not nag while typing.
        if (input.getAttribute("aria-invalid") === "true") validate(rule);
      });
      input.addEventListener("blur", function () {
        if (input.value.trim() || input.getAttribute("aria-invalid") === "true") validate(rule);
      });
    });

    // Registered before the page's own submit handlers, which look at defaultPrevented.
    form.addEventListener("submit", function (e) {
      var firstBad = null;
      rules.forEach(function (rule) {
        if (validate(rule) && !firstBad) firstBad = rule.input;
      });
      if (firstBad) {
        e.preventDefault();
        firstBad.focus();
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-kassa-card]"), enhance);
    // A form re-rendered in answer to its POST shows the page's own address again, so that a
    // reload loads the page instead of offering to send the form a second time.
    var canonical = document.querySelector("form[data-kassa-url]");
    if (canonical && window.history && window.history.replaceState) {
      var url = canonical.getAttribute("data-kassa-url");
      if (url && url.charAt(0) === "/" && url.charAt(1) !== "/" && url !== window.location.pathname + window.location.search) {
        window.history.replaceState(window.history.state, "", url);
      }
    }
    var alert = document.querySelector("[data-kassa-focus]");
    if (alert) {
      if (!alert.hasAttribute("tabindex")) alert.setAttribute("tabindex", "-1");
      alert.focus();
    }
  }

  window.KassaCard = {
    digitsOf: digitsOf,
    luhnValid: luhnValid,
    brandOf: brandOf,
    groupCardNumber: groupCardNumber,
    formatNumberInput: formatNumberInput,
    formatExpiryInput: formatExpiryInput,
    parseExpiry: parseExpiry,
    check: check,
    renderBrand: renderBrand,
    enhance: enhance
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
