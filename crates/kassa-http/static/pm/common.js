// Shared by the Paymob-compatible pages served from Kassa's own origin (Unified Checkout and the
// card frame Pixel embeds): the page's words, its language and amounts, and the card-field
// helpers, which come from the shared /static/kassa-card.js (loaded before this file).
// Exposes window.KassaPM.
//
// The words are not kept here: the server writes the page's language into <html lang dir> and
// its word table (the catalogs of kassa-i18n: pm.*, card.*, decline.*, common.*) into
// <script type="application/json" id="pm-i18n">; another language's table, and amounts written
// the way a language writes money (CLDR, on the server), come from /pm/i18n/{lang}.
(function () {
  "use strict";

  function readTable() {
    var el = document.getElementById("pm-i18n");
    try {
      var t = el ? JSON.parse(el.textContent) : null;
      if (t && t.text) return t;
    } catch (e) {
      // fall through: a page without its table shows the keys, which the tests catch
    }
    return { lang: document.documentElement.lang || "en", dir: document.documentElement.dir || "ltr", text: {} };
  }

  var table = readTable();
  var tables = {}; // lang → table
  tables[table.lang] = table;
  var money = {}; // lang → {"EGP:25000": "…"}

  function lang() {
    return table.lang;
  }

  // `face.key` (`pm.loading`, `card.number_required`, `decline.insufficient_funds`) in the page's
  // language, `{name}` placeholders filled from `vars`.
  function t(key, vars) {
    var dot = key.indexOf(".");
    var face = table.text[key.slice(0, dot)] || {};
    var rest = key.slice(dot + 1);
    var s = Object.prototype.hasOwnProperty.call(face, rest) ? face[rest] : key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
    });
  }

  function has(key) {
    var dot = key.indexOf(".");
    var face = table.text[key.slice(0, dot)] || {};
    return Object.prototype.hasOwnProperty.call(face, key.slice(dot + 1));
  }

  // Sets <html lang dir> and every element's text, placeholder or aria-label marked with
  // data-i18n, data-i18n-placeholder or data-i18n-label. `dir` overrides the language's.
  function apply(dir) {
    var root = document.documentElement;
    root.setAttribute("lang", table.lang);
    root.setAttribute("dir", dir || table.dir);
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (el) {
      el.setAttribute("placeholder", t(el.getAttribute("data-i18n-placeholder")));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-label]"), function (el) {
      el.setAttribute("aria-label", t(el.getAttribute("data-i18n-label")));
    });
  }

  function moneyKey(minor, currency) {
    return String(currency || "").toUpperCase() + ":" + String(Math.round(Number(minor) || 0));
  }

  // Fetches a language's table and the text of these amounts in it; resolves with the table.
  async function load(code, currency, minors) {
    var q = new URLSearchParams();
    var wanted = (minors || []).filter(function (m) {
      return !(money[code] && money[code][moneyKey(m, currency)] !== undefined);
    });
    if (currency && wanted.length) {
      q.set("currency", currency);
      wanted.forEach(function (m) {
        q.append("minor", String(Math.round(Number(m) || 0)));
      });
    } else if (tables[code]) {
      return tables[code];
    }
    var res = await fetch("/pm/i18n/" + encodeURIComponent(code) + (q.toString() ? "?" + q : ""), {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    });
    if (!res.ok) throw new Error("language table " + code + ": HTTP " + res.status);
    var got = await res.json();
    tables[code] = { lang: got.lang, dir: got.dir, text: got.text };
    money[code] = money[code] || {};
    Object.keys(got.money || {}).forEach(function (minor) {
      money[code][moneyKey(minor, currency)] = got.money[minor];
    });
    return tables[code];
  }

  // Makes `code` the page's language (its table fetched if needed) and re-applies the texts.
  async function use(code, currency, minors, dir) {
    table = await load(code, currency, minors);
    apply(dir);
    return table;
  }

  // An amount as the server writes it in the page's language (`$10.00`, `10,00 €`,
  // `‏250.00 ج.م.‏`): ask for it first with `use`/`load`.
  function formatAmount(minor, currency) {
    var m = money[table.lang] && money[table.lang][moneyKey(minor, currency)];
    if (m !== undefined) return m;
    // Not fetched (the server was unreachable): the bare figures, never a guessed format.
    var n = Math.round(Number(minor) || 0);
    return String(currency || "").toUpperCase() + " " + (n / 100).toFixed(2);
  }

  // The links of the page's language switcher (server-rendered, each the same address in another
  // language) switch in place instead: no reload, whatever was typed is kept, and the address
  // bar's `lang` follows so a reload shows the same language.
  function setUpLangLinks(nav, prepare, onChange) {
    if (!nav) return;
    nav.addEventListener("click", function (e) {
      var link = e.target.closest ? e.target.closest("a[data-lang]") : null;
      if (!link || e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      var code = link.getAttribute("data-lang");
      var need = prepare ? prepare() : { currency: "", minors: [] };
      use(code, need.currency, need.minors).then(function () {
        var url = new URL(window.location.href);
        url.searchParams.set("lang", code);
        window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
        Array.prototype.forEach.call(nav.querySelectorAll("a[data-lang]"), function (a) {
          if (a === link) a.setAttribute("aria-current", "true");
          else a.removeAttribute("aria-current");
        });
        onChange();
      }, function () {
        window.location.assign(link.href); // the server renders it instead
      });
    });
  }

  // A decline the payer can read, from a Paymob transaction's `data`: by its response code in
  // the decline catalog; English keeps the processor's own sentence.
  var DECLINES = {
    INSUFFICIENT_FUNDS: "insufficient_funds",
    EXPIRED_CARD: "expired_card",
    INVALID_CVV: "incorrect_cvc",
    INVALID_CARD: "incorrect_number",
    AUTHENTICATION_FAILED: "authentication_failed",
    BLOCKED: "card_declined",
    DECLINED: "card_declined"
  };

  function declineText(data, fallbackKey) {
    var d = data && typeof data === "object" ? data : {};
    var processor = typeof d.message === "string" ? d.message.trim() : "";
    if (table.lang === "en" && processor && processor !== "Declined") return processor;
    var code = DECLINES[String(d.txn_response_code || "").toUpperCase()];
    if (code && has("decline." + code)) return t("decline." + code);
    return t(fallbackKey);
  }

  // ---- card fields: the shared /static/kassa-card.js (window.KassaCard, loaded first) ----

  var C = window.KassaCard;

  function digitsOf(s) {
    return C.digitsOf(s);
  }

  function formatExpiryInput(input, deleting) {
    C.formatExpiryInput(input, deleting, "/");
  }

  // "MM/YY" → {month: "MM", year: "YY"} (the Paymob pay request's strings), or null.
  function parseExpiry(value) {
    var e = C.parseExpiry(value);
    if (!e || !/^\d{2}\/\d{2}$/.test(String(value).replace(/\s/g, ""))) return null;
    return { month: ("0" + e.month).slice(-2), year: String(e.year).slice(-2) };
  }

  var REASONS = {
    number: { required: "card.number_required", invalid: "card.number_invalid", luhn: "card.number_luhn" },
    expiry: { required: "card.expiry_required", format: "card.expiry_format", past: "card.expiry_past" },
    cvv: { required: "card.cvc_required", invalid: "card.cvc_invalid", amex: "card.cvc_amex" }
  };

  // Each check returns "" or a catalog key.
  var cardChecks = {
    number: function (value) {
      var r = C.check.number(value);
      return r ? REASONS.number[r] : "";
    },
    name: function (value) {
      var v = String(value).trim();
      if (!v) return "pm.card_name_required";
      if (v.length > 50) return "card.name_long";
      return "";
    },
    expiry: function (value) {
      var r = C.check.expiry(value);
      return r ? REASONS.expiry[r] : "";
    },
    cvv: function (value, number) {
      var r = C.check.cvc(value, number);
      return r ? REASONS.cvv[r] : "";
    }
  };

  // Wallet numbers: local (01010101010) or international (+201010101010), spaces and dashes allowed.
  function walletError(value) {
    var v = String(value).replace(/[\s-]/g, "");
    if (!v) return "pm.phone_required";
    return /^\+?\d{8,15}$/.test(v) ? "" : "pm.phone_invalid";
  }

  window.KassaPM = {
    lang: lang,
    t: t,
    apply: apply,
    load: load,
    use: use,
    setUpLangLinks: setUpLangLinks,
    formatAmount: formatAmount,
    declineText: declineText,
    digitsOf: digitsOf,
    formatCardNumberInput: function (input) {
      C.formatNumberInput(input);
    },
    renderBrand: function (el, digits) {
      return C.renderBrand(el, digits);
    },
    formatExpiryInput: formatExpiryInput,
    parseExpiry: parseExpiry,
    cardChecks: cardChecks,
    walletError: walletError
  };
})();
