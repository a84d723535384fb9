// Kassa Pixel: a stand-in for Paymob's Pixel SDK, served at /pixel/main.js. Merchants load it with
// <script src="https://<kassa>/pixel/main.js"> (classic or type="module"); it sets window.Pixel and
// exports nothing. Card data is typed only in the card iframe served by the same Kassa server;
// this script renders around it (tabs, Pay button), relays the merchant's options and handles the
// pay response. Everything is drawn in a shadow root so the merchant's CSS stays out.
(function () {
  "use strict";

  // Loaded twice (say, re-injected by a single-page app): keep the first copy and its instances.
  if (window.Pixel && window.Pixel.isKassa === true) return;

  var SCRIPT_PATH = /\/pixel\/main\.js(?:[?#].*)?$/;
  var COUNTRIES = ["egy", "are", "pak", "omn", "sau"];
  var ERROR_KEYS = ["cardNumber", "cardHolderName", "expiryDate", "cvv"];
  var LOAD_ERROR = "Something went wrong while retrieving payment data.";
  var NO_METHODS = "No Payment Methods Available";

  // The Kassa origin is that of this script. Module scripts have no document.currentScript, so
  // then look for our <script src> among the page's scripts.
  function scriptOrigin() {
    var src = document.currentScript && document.currentScript.src;
    if (!src) {
      for (var i = document.scripts.length - 1; i >= 0; i--) {
        if (SCRIPT_PATH.test(document.scripts[i].src)) {
          src = document.scripts[i].src;
          break;
        }
      }
    }
    if (!src) return "";
    try {
      return new URL(src, window.location.href).origin;
    } catch (e) {
      return "";
    }
  }

  var ORIGIN = scriptOrigin();

  // Pixel's words come from the Kassa server's catalogs (/pm/i18n/{lang}, the same the card
  // frame and Unified Checkout use), in one of the languages it speaks.
  var LANGS = ["en", "ar", "fr", "de", "es", "tr"];

  // A decline the payer can read, by the transaction's response code (decline catalog keys).
  var DECLINES = {
    INSUFFICIENT_FUNDS: "insufficient_funds",
    EXPIRED_CARD: "expired_card",
    INVALID_CVV: "incorrect_cvc",
    INVALID_CARD: "incorrect_number",
    AUTHENTICATION_FAILED: "authentication_failed",
    BLOCKED: "card_declined",
    DECLINED: "card_declined"
  };

  var METHOD_LABELS = { card: "pm.method_card", "card-auth": "pm.method_card", "card-installment": "pm.installments" };

  var CSS = [
    ":host{all:initial;display:block}",
    "[hidden]{display:none!important}",
    ".kp{font-family:var(--kp-font,system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif);",
    "font-size:16px;line-height:1.5;color:#191c22;background:var(--kp-bg,transparent);-webkit-text-size-adjust:100%}",
    ".kp *,.kp *::before,.kp *::after{box-sizing:border-box}",
    ".kp-tabs{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 12px}",
    ".kp-tab{flex:1 1 8rem;min-height:44px;padding:8px 12px;border:1px solid #8a93a3;border-radius:var(--kp-radius,8px);",
    "background:#fff;color:#191c22;font:inherit;font-weight:600;cursor:pointer}",
    ".kp-tab[aria-pressed=true]{border-color:var(--kp-accent,#1f4fd1);box-shadow:0 0 0 1px var(--kp-accent,#1f4fd1);",
    "background:#e8eefc}",
    ".kp-tab:focus-visible,.kp-pay:focus-visible{outline:3px solid var(--kp-accent,#1f4fd1);outline-offset:2px}",
    ".kp-frame{display:block;width:100%;height:17rem;border:0;background:transparent;color-scheme:light}",
    ".kp-pay{display:flex;align-items:center;justify-content:center;gap:8px;width:100%;min-height:48px;margin:8px 0 0;",
    "padding:12px 16px;border:1px solid var(--kp-pay-border,transparent);border-radius:var(--kp-radius,8px);",
    "background:var(--kp-accent,#1f4fd1);color:var(--kp-pay-text,#fff);font:inherit;font-size:var(--kp-pay-size,17px);",
    "font-weight:var(--kp-pay-weight,600);cursor:pointer}",
    ".kp-pay:disabled{background:var(--kp-disabled,#7f93c9);cursor:not-allowed}",
    ".kp-pay[aria-busy=true]{cursor:progress}",
    ".kp-pay[aria-busy=true]::before{content:'';flex:none;width:18px;height:18px;border:2px solid rgba(255,255,255,.45);",
    "border-top-color:#fff;border-radius:50%;animation:kp-spin .8s linear infinite}",
    "@keyframes kp-spin{to{transform:rotate(360deg)}}",
    "@media (prefers-reduced-motion:reduce){.kp-pay[aria-busy=true]::before{animation:none}}",
    ".kp-msg{margin:10px 0 0;padding:10px 12px;border-radius:8px;font-size:14px;font-weight:600;overflow-wrap:anywhere}",
    ".kp-msg-error{background:#fef3f2;border:1px solid #f3c2bd;color:#8f1b12}",
    ".kp-msg-info{background:#e7f6ee;border:1px solid #a6dcbf;color:#05603a}",
    ".kp-status{margin:0;padding:16px 0;color:#555d6b;text-align:center}",
    ".kp-status-error{padding:10px 12px;border:1px solid #f3c2bd;border-radius:8px;background:#fef3f2;color:#8f1b12;",
    "font-weight:600;text-align:start}",
    ".kp-secured{display:flex;align-items:center;justify-content:center;gap:6px;margin:10px 0 0;color:#555d6b;font-size:13px}",
    ".kp-lock{position:relative;flex:none;width:10px;height:8px;margin-top:4px;border-radius:2px;background:currentColor}",
    ".kp-lock::before{content:'';position:absolute;left:2px;top:-5px;width:6px;height:6px;border:2px solid currentColor;",
    "border-bottom:0;border-radius:4px 4px 0 0}"
  ].join("");

  // Pixel customStyle keys that also style what this script draws (the rest go to the card frame).
  var HOST_STYLE_VARS = {
    Font_Family: ["--kp-font"],
    Color_Primary: ["--kp-accent"],
    Color_Container: ["--kp-bg"],
    Color_Disabled: ["--kp-disabled"],
    Color_Border_Payment_Button: ["--kp-pay-border"],
    Text_Color_For_Payment_Button: ["--kp-pay-text"],
    Font_Size_Payment_Button: ["--kp-pay-size", "px"],
    Font_Weight_Payment_Button: ["--kp-pay-weight"],
    Radius_Border: ["--kp-radius", "px"]
  };

  function countryOf(key) {
    return typeof key === "string" ? key.split("_")[0].toLowerCase() : "";
  }

  // The page's language: Pixel's own `lang` option, else the merchant page's <html lang>, else
  // English; only its primary subtag counts (ar-EG → ar).
  function pickLang(option) {
    var tags = [option, document.documentElement.lang];
    for (var i = 0; i < tags.length; i++) {
      var primary = String(tags[i] || "").trim().toLowerCase().split(/[-_]/)[0];
      if (LANGS.indexOf(primary) >= 0) return primary;
    }
    return "en";
  }

  function nonEmptyString(v) {
    return typeof v === "string" && v.trim() ? v.trim() : "";
  }

  // Redirect targets come from Kassa: a relative one is relative to Kassa, not to the merchant.
  function kassaUrl(v) {
    var s = nonEmptyString(v);
    if (!s) return "";
    try {
      return new URL(s, ORIGIN).href;
    } catch (e) {
      return "";
    }
  }

  // The readable part of a refused payment's body.
  function errorText(data) {
    if (Array.isArray(data)) return data.filter(function (x) { return typeof x === "string"; }).join(" ");
    if (!data || typeof data !== "object") return "";
    return nonEmptyString(data.message) || nonEmptyString(data.detail) || nonEmptyString(data.msg);
  }

  function cssValue(value, unit) {
    if (typeof value === "number" && isFinite(value)) return unit ? value + unit : String(value);
    if (typeof value !== "string" || !value.trim()) return "";
    return unit && /^\d+(\.\d+)?$/.test(value.trim()) ? value.trim() + unit : value.trim();
  }

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // Merchant callbacks must not break the payment flow; their errors are the merchant's to see.
  function callBack(fn, arg) {
    if (typeof fn !== "function") return;
    try {
      fn(arg);
    } catch (e) {
      console.error(e);
    }
  }

  function addStyles(root) {
    // A constructed sheet is not subject to the merchant page's CSP style-src; a <style> element is.
    if (typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in root) {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
        return;
      } catch (e) {
        // Engines without constructable sheets fall through to the <style> element.
      }
    }
    root.appendChild(node("style", "", CSS));
  }

  class Pixel {
    constructor(options) {
      var o = options && typeof options === "object" ? options : {};
      if (!ORIGIN) {
        throw new Error("Pixel: cannot tell which server main.js came from; load it with <script src=\"…/pixel/main.js\">");
      }
      if (typeof o.publicKey !== "string" || !o.publicKey) throw new Error("Pixel: publicKey is required");
      if (COUNTRIES.indexOf(countryOf(o.publicKey)) < 0 && COUNTRIES.indexOf(countryOf(o.clientSecret)) < 0) {
        throw new Error("Pixel: invalid publicKey; it must start with one of " + COUNTRIES.join("_, ") + "_");
      }
      if (typeof o.clientSecret !== "string" || !o.clientSecret) {
        throw new Error("Pixel: clientSecret is required (tokenization mode is not supported)");
      }
      if (!Array.isArray(o.paymentMethods)) {
        throw new Error('Pixel: paymentMethods must be a list of method names, such as ["card"]');
      }
      if (typeof o.elementId !== "string" || !document.getElementById(o.elementId)) {
        throw new Error('Pixel: there is no element with id "' + o.elementId + '"');
      }
      var previous = Pixel._instances[o.elementId];
      if (previous) previous.destroy();

      this.options = o;
      this.elementId = o.elementId;
      var style = o.customStyle && typeof o.customStyle === "object" ? o.customStyle : {};
      this._lang = pickLang(o.lang || o.language);
      this._text = {};
      this._money = {};
      this._dir = style.Direction === "rtl" || style.Direction === "ltr" ? style.Direction : this._lang === "ar" ? "rtl" : "ltr";
      this._data = null;
      this._methods = [];
      this._selected = null;
      this._frame = null;
      this._frameLoaded = false;
      this._valid = null; // unknown until the frame first reports
      this._canPay = false;
      this._loading = false; // the frame is talking to the server
      this._busy = false; // between a Pay press and the frame's answer
      this._done = false; // paid, or leaving the page
      this._onMessage = this._onMessage.bind(this);
      this._onPayFromOutside = this._pay.bind(this);
      window.addEventListener("message", this._onMessage);
      window.addEventListener("payFromOutside", this._onPayFromOutside);
      Pixel._instances[o.elementId] = this;
      this._mount(style);
      // Resolves with the intention data once rendered; failures are also logged here, so a
      // merchant who never looks at `ready` gets no unhandled rejection.
      this.ready = this._load();
      this.ready.catch(function (e) {
        console.error(e);
      });
    }

    // `face.key` in Pixel's language; before the words arrive (or if they cannot), nothing, but
    // for the load error, Paymob's own English sentence.
    t(key, vars) {
      var dot = key.indexOf(".");
      var face = this._text[key.slice(0, dot)] || {};
      var s = typeof face[key.slice(dot + 1)] === "string" ? face[key.slice(dot + 1)] : "";
      if (!s && key === "pm.load_error") s = LOAD_ERROR;
      return vars ? s.replace(/\{(\w+)\}/g, function (w, k) { return k in vars ? String(vars[k]) : w; }) : s;
    }

    // The words of Pixel's language and, given a currency, these amounts as that language writes
    // money (the server's CLDR formatting, the same on every Kassa page). Never throws.
    async _fetchWords(currency, minors) {
      var q = new URLSearchParams();
      if (currency) {
        q.set("currency", currency);
        minors.forEach(function (m) { q.append("minor", String(Math.round(Number(m) || 0))); });
      }
      try {
        var res = await fetch(ORIGIN + "/pm/i18n/" + this._lang + (currency ? "?" + q : ""), {
          headers: { Accept: "application/json" },
          credentials: "omit"
        });
        if (!res.ok) return;
        var got = await res.json();
        if (got && got.text) this._text = got.text;
        if (got && got.money) Object.assign(this._money, got.money);
      } catch (e) {
        // Unreachable: the bare figures and whatever words arrived.
      }
    }

    _amount() {
      var d = (this._data && this._data.intention_detail) || {};
      var key = String(Math.round(Number(d.amount) || 0));
      if (this._money[key] !== undefined) return this._money[key];
      return String(d.currency || "").toUpperCase() + " " + (Number(key) / 100).toFixed(2);
    }

    // `data` is the transaction's `data` (message, txn_response_code).
    _declineText(data) {
      var processor = nonEmptyString(data.message);
      if (this._lang === "en" && processor && processor !== "Declined") return processor;
      var code = DECLINES[String(data.txn_response_code || "").toUpperCase()];
      return (code && this.t("decline." + code)) || this.t("pm.declined_card");
    }

    destroy() {
      window.removeEventListener("message", this._onMessage);
      window.removeEventListener("payFromOutside", this._onPayFromOutside);
      if (this._host.parentNode) this._host.parentNode.removeChild(this._host);
      if (Pixel._instances[this.elementId] === this) delete Pixel._instances[this.elementId];
    }

    _mount(style) {
      var container = document.getElementById(this.elementId);
      container.textContent = "";
      this._host = node("div", "kassa-pixel");
      container.appendChild(this._host);
      var root = this._host.attachShadow({ mode: "open" });
      addStyles(root);
      this._box = node("div", "kp");
      this._box.setAttribute("dir", this._dir);
      this._box.setAttribute("lang", this._lang);
      var box = this._box;
      Object.keys(HOST_STYLE_VARS).forEach(function (key) {
        var value = cssValue(style[key], HOST_STYLE_VARS[key][1]);
        if (value) box.style.setProperty(HOST_STYLE_VARS[key][0], value);
      });
      this._status = node("p", "kp-status", "");
      this._status.setAttribute("role", "status");
      this._box.appendChild(this._status);
      root.appendChild(this._box);
    }

    async _load() {
      var words = this._fetchWords("", []).then(
        function () {
          if (!this._data && !this._status.textContent) this._status.textContent = this.t("pm.loading_methods");
        }.bind(this)
      );
      var data;
      try {
        data = await this._fetchIntention();
      } catch (e) {
        await words;
        this._showError(this._loadError || this.t("pm.load_error"));
        throw e;
      }
      await words;
      var d = data.intention_detail || {};
      await this._fetchWords(String(d.currency || ""), [d.amount]);
      this._apply(data);
      return data;
    }

    async _fetchIntention() {
      var o = this.options;
      var url = ORIGIN + "/v1/intention/element/" + encodeURIComponent(o.publicKey) + "/" +
        encodeURIComponent(o.clientSecret) + "/";
      var res;
      try {
        res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" });
      } catch (e) {
        // Unreachable server, or the browser refused the cross-origin answer.
        this._loadError = "";
        throw new Error("Pixel: " + LOAD_ERROR);
      }
      var body = null;
      try {
        body = JSON.parse(await res.text());
      } catch (e) {
        body = null; // not JSON: treated as a failure below
      }
      if (!res.ok || !body || typeof body !== "object") {
        var message = (body && (nonEmptyString(body.msg) || nonEmptyString(body.detail))) || "";
        // The server's sentence is English: other languages say it in their own words.
        this._loadError = this._lang === "en" ? message : "";
        throw new Error("Pixel: " + (message || LOAD_ERROR));
      }
      return body;
    }

    _apply(data) {
      var wanted = this.options.paymentMethods.map(function (m) { return String(m).toLowerCase(); });
      var keys = data.payment_keys && typeof data.payment_keys === "object" ? data.payment_keys : {};
      var list = Array.isArray(data.payment_methods) ? data.payment_methods : [];
      var methods = [];
      list.forEach(function (pm) {
        if (!pm || typeof pm.name !== "string") return;
        var key = pm.name.toLowerCase();
        if (wanted.indexOf(key) < 0 && key !== "card-installment") return;
        if (key.indexOf("card") < 0 && String(pm.subtype || "").toUpperCase() !== "CARD") {
          console.warn('Pixel: payment method "' + pm.name + '" is not supported here and was left out');
          return;
        }
        if (typeof keys[key] !== "string" || !keys[key]) return;
        methods.push({ name: pm.name, key: key, token: keys[key], integrationId: pm.integration_id });
      });
      if (!methods.length) {
        this._showError(this.t("pm.no_methods"));
        throw new Error(NO_METHODS);
      }
      var previous = this._selected && this._selected.key;
      this._data = data;
      this._methods = methods;
      this._selected = methods.filter(function (m) { return m.key === previous; })[0] || methods[0];
      if (!this._frame) this._render();
      this._renderTabs();
      this._syncPay();
    }

    _render() {
      var o = this.options;
      this._box.textContent = "";
      this._tabs = node("div", "kp-tabs");
      this._tabs.setAttribute("role", "group");
      this._tabs.setAttribute("aria-label", this.t("pm.choose_method"));
      this._frame = node("iframe", "kp-frame");
      // The public key tells the server whose frame_ancestors allow this page to frame it.
      this._frame.src = ORIGIN + "/iframe-card-v2/?type=card&v=2&integration_type=directPayment&publicKey=" +
        encodeURIComponent(o.publicKey) + "&lang=" + this._lang;
      this._frame.title = this.t("pm.title_card_frame");
      this._frame.setAttribute("allow", "payment");
      this._payButton = node("button", "kp-pay");
      this._payButton.type = "button";
      this._payButton.disabled = true;
      this._payButton.hidden = o.disablePay === true;
      this._payButton.addEventListener("click", this._onPayFromOutside);
      this._message = node("p", "kp-msg");
      this._message.hidden = true;
      this._message.setAttribute("aria-live", "polite");
      this._box.appendChild(this._tabs);
      this._box.appendChild(this._frame);
      this._box.appendChild(this._payButton);
      this._box.appendChild(this._message);
      if (o.showPaymobLogo !== false) {
        var secured = node("p", "kp-secured");
        var lock = node("span", "kp-lock");
        lock.setAttribute("aria-hidden", "true");
        secured.appendChild(lock);
        secured.appendChild(node("span", "", this.t("pm.secured")));
        this._box.appendChild(secured);
      }
    }

    _renderTabs() {
      var self = this;
      this._tabs.textContent = "";
      this._tabs.hidden = this._methods.length < 2;
      this._methods.forEach(function (m) {
        var label = METHOD_LABELS[m.key] ? self.t(METHOD_LABELS[m.key]) : m.name.replace(/[-_]+/g, " ");
        var tab = node("button", "kp-tab", label);
        tab.type = "button";
        tab.setAttribute("data-method", m.name);
        tab.setAttribute("aria-pressed", String(m === self._selected));
        tab.addEventListener("click", function () {
          if (self._busy || self._loading) return;
          self._selected = m;
          self._renderTabs();
        });
        self._tabs.appendChild(tab);
      });
    }

    _syncPay() {
      if (!this._payButton) return;
      var detail = (this._data && this._data.intention_detail) || {};
      this._payButton.textContent = this.t("common.pay_amount", { amount: this._amount() });
      this._payButton.disabled = !this._canPay || this._loading || this._busy || this._done;
      if (this._loading || this._busy) this._payButton.setAttribute("aria-busy", "true");
      else this._payButton.removeAttribute("aria-busy");
    }

    _showError(text) {
      if (this._message) {
        this._showMessage(text, "error");
        return;
      }
      this._status.textContent = text;
      this._status.className = "kp-status kp-status-error";
      this._status.setAttribute("role", "alert");
    }

    _showMessage(text, kind) {
      this._message.textContent = text;
      this._message.className = "kp-msg kp-msg-" + kind;
      this._message.hidden = !text;
    }

    _post(message) {
      if (this._frame && this._frame.contentWindow) this._frame.contentWindow.postMessage(message, ORIGIN);
    }

    _sendStyles() {
      var o = this.options;
      // A JSON round trip drops anything postMessage cannot clone (functions, DOM nodes).
      var styling = o.customStyle && typeof o.customStyle === "object" ? JSON.parse(JSON.stringify(o.customStyle)) : {};
      this._post({
        type: "customStyles",
        payload: {
          styling: styling,
          options: {
            hideCardHolderName: o.hideCardHolderName === true,
            showSaveCard: o.showSaveCard === true,
            forceSaveCard: o.forceSaveCard === true,
            lang: this._lang
          }
        }
      });
    }

    _onMessage(event) {
      if (!this._frame || event.source !== this._frame.contentWindow || event.origin !== ORIGIN) return;
      var d = event.data;
      if (!d || typeof d !== "object") return;
      if (typeof d.iframeCardHight === "number" && d.iframeCardHight > 0) {
        this._frame.style.height = Math.ceil(d.iframeCardHight) + "px";
      }
      if (d.type === "isIframeLoaded") {
        this._frameLoaded = true;
        this._sendStyles();
      }
      if (d.errors && typeof d.errors === "object") {
        var valid = ERROR_KEYS.every(function (k) { return !d.errors[k]; });
        // The frame refused a submission (a field changed while beforePaymentComplete ran).
        if (!valid && this._busy && !this._loading) this._busy = false;
        if (valid !== this._valid) {
          this._valid = valid;
          callBack(this.options.cardValidationChanged, valid);
        }
      }
      if (typeof d.shouldDisableActionBtn === "boolean") this._canPay = !d.shouldDisableActionBtn;
      if (typeof d.loading === "boolean") this._loading = d.loading;
      if (d.type === "paymentResponse") this._onPaymentResponse(d.response);
      this._syncPay();
    }

    async _pay() {
      if (!this._frameLoaded || !this._selected || this._busy || this._loading || this._done) return;
      if (!this._valid) {
        // Let the frame show the customer what is missing.
        this._post({ type: "cardData", payload: { shouldSubmitData: false } });
        return;
      }
      var o = this.options;
      var m = this._selected;
      this._busy = true;
      this._showMessage("", "info");
      this._syncPay();
      var proceed = true;
      if (typeof o.beforePaymentComplete === "function") {
        try {
          proceed = (await o.beforePaymentComplete(m.name)) !== false;
        } catch (e) {
          console.error(e);
          proceed = false;
        }
      }
      if (!proceed) {
        this._busy = false;
        this._syncPay();
        return;
      }
      var currency = this._data.intention_detail && this._data.intention_detail.currency;
      this._post({
        type: "cardData",
        payload: {
          paymentToken: m.token,
          subType: { paymentToken: m.token, type: "CARD", integrationId: m.integrationId },
          currency: currency,
          saveCard: o.forceSaveCard === true,
          tenure: null,
          shouldSubmitData: true,
          integrationId: m.integrationId
        }
      });
    }

    _onPaymentResponse(response) {
      this._busy = false;
      var res = response && response.res && typeof response.res === "object" ? response.res : { status: 0, data: {} };
      var data = res.data && typeof res.data === "object" ? res.data : {};
      var target = kassaUrl(data.redirection_url) || kassaUrl(data.redirect_url);
      var ok = res.status >= 200 && res.status < 300;
      // 3-D Secure: off to the issuer; the merchant hears about the result from the return URL.
      if (data.is_3d_secure === "true" && target) {
        this._done = true;
        window.location.href = target;
        return;
      }
      if (ok && data.success === "true") this._done = true;
      // A refusal or a decline is always said here, in the box the payer is looking at, even when
      // the merchant's afterPaymentComplete also hears about it.
      if (!ok) this._showMessage(this._refusalText(res), "error");
      else if (data.success !== "true" && data.pending !== "true") {
        this._showMessage(this._declineText(data.data && typeof data.data === "object" ? data.data : {}), "error");
      }
      if (typeof this.options.afterPaymentComplete === "function") {
        callBack(this.options.afterPaymentComplete, res);
        return;
      }
      if (target) {
        this._done = true;
        window.location.href = target;
        return;
      }
      if (ok && data.success === "true") this._showMessage(this.t("pm.success_short"), "info");
    }

    _refusalText(res) {
      if (res.status === 0) return this.t("pm.network");
      var server = errorText(res.data);
      if (this._lang === "en" && server) return server;
      return this.t(res.status === 401 ? "pm.session" : res.status === 403 ? "pm.retries" : "pm.generic");
    }

    static async updateIntentionData(elementId) {
      var instance = Pixel._pick(elementId);
      var data = await instance._fetchIntention();
      instance._apply(data);
      return data;
    }

    static async submit() {
      throw new Error("Pixel: tokenization mode is not supported");
    }

    static _pick(elementId) {
      if (elementId) {
        if (!Pixel._instances[elementId]) throw new Error('Pixel: no instance for element "' + elementId + '"');
        return Pixel._instances[elementId];
      }
      var ids = Object.keys(Pixel._instances);
      if (ids.length > 1) throw new Error("Multiple Pixel instances detected, please provide elementId");
      if (!ids.length) throw new Error("Pixel: no instance has been created yet");
      return Pixel._instances[ids[0]];
    }
  }

  Pixel._instances = {};
  Pixel.isKassa = true;
  window.Pixel = Pixel;
})();
