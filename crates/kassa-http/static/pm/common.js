// Shared by the Paymob-compatible pages served from Kassa's own origin (Unified Checkout, the
// payment status page and the card frame that Pixel embeds): the one EN/AR dictionary, language
// selection, amount formatting and the card-field helpers, which come from the shared
// /static/kassa-card.js (loaded before this file). Exposes window.KassaPM; no network.
(function () {
  "use strict";

  var STRINGS = {
    en: {
      other_lang: "العربية",
      other_lang_code: "ar",
      title_checkout: "Checkout",
      title_status: "Payment status",
      title_card_frame: "Card details",
      loading: "Loading payment details\u2026",
      secured: "Secured by Kassa",
      test_mode: "Test mode",
      order_summary: "Order summary",
      item_quantity: "Qty {n}",
      choose_method: "Payment method",
      method_card: "Card",
      method_installments: "Card installments",
      method_wallet: "Mobile wallet",
      method_kiosk: "Kiosk (Aman / Masary)",
      method_cash: "Cash on delivery",
      card_number: "Card number",
      card_name: "Name on card",
      card_expiry: "Expiry date",
      card_cvv: "CVV",
      save_card: "Save card for future payments",
      ph_card_number: "1234 5678 9012 3456",
      ph_card_name: "Test Account",
      ph_expiry: "MM/YY",
      ph_cvv: "123",
      cvv_hint: "3 or 4 digits, usually on the back of the card",
      wallet_phone: "Mobile wallet number",
      ph_wallet: "01010101010",
      wallet_hint: "You will confirm the payment on the next page with your wallet PIN or a code we send you.",
      kiosk_info: "Get a reference number, then pay it in cash at any Aman or Masary outlet.",
      cash_info: "Pay the courier in cash when your order is delivered.",
      pay_amount: "Pay {amount}",
      get_reference: "Get reference number",
      pay_cash: "Pay cash on delivery",
      processing: "Processing\u2026",
      redirecting: "Redirecting\u2026",
      err_card_number_required: "Enter your card number.",
      err_card_number_invalid: "This card number is not valid. Check it and try again.",
      err_card_name_required: "Enter the name shown on the card.",
      err_card_name_long: "The name is too long.",
      err_expiry_required: "Enter the expiry date.",
      err_expiry_format: "Enter the expiry date as MM/YY.",
      err_expiry_past: "This card has expired.",
      err_cvv_required: "Enter the CVV.",
      err_cvv_invalid: "Enter the 3- or 4-digit CVV.",
      err_cvv_amex: "Enter the 4-digit code on the front of the card.",
      err_phone_required: "Enter your mobile wallet number.",
      err_phone_invalid: "Enter a valid mobile number, for example 01010101010.",
      err_fix_fields: "Please correct the highlighted fields.",
      err_load: "Something went wrong while retrieving payment data.",
      err_incomplete_link: "This payment link is incomplete. Please return to the store and try again.",
      err_no_methods: "No payment methods are available for this payment.",
      err_network: "We could not reach the payment server. Check your connection and try again.",
      err_generic: "The payment could not be completed. Please try again.",
      err_session: "This payment session has expired. Please return to the store and start again.",
      err_retries: "Too many payment attempts. Please return to the store and start again.",
      field_card_number: "Card number",
      field_wallet: "Mobile number",
      field_card_name: "Name on card",
      field_expiry: "Expiry date",
      field_cvv: "CVV",
      field_payment_token: "Payment session",
      already_paid_title: "Already paid",
      already_paid: "This order has already been paid. There is nothing more to do.",
      ref_title: "Your reference number",
      ref_instructions: "Pay at any Aman or Masary outlet with this reference",
      ref_amount: "Amount to pay: {amount}",
      ref_note: "Your order is confirmed once the payment is made.",
      result_success: "Payment successful",
      result_pending: "Payment pending",
      result_declined: "Payment declined",
      success_default: "Thank you. Your payment has been received.",
      pending_default: "Your payment is being processed. The merchant will confirm it shortly.",
      declined_default: "The payment was not completed. You can try again or use another payment method.",
      result_unverified: "We could not verify this payment result",
      unverified_default: "This page cannot confirm the payment. Check your order with the merchant, or your card or wallet statement.",
      status_amount: "Amount",
      status_transaction: "Transaction ID",
      status_order: "Order",
      status_reference: "Merchant reference",
      status_card: "Card"
    },
    ar: {
      other_lang: "English",
      other_lang_code: "en",
      title_checkout: "الدفع",
      title_status: "حالة الدفع",
      title_card_frame: "بيانات البطاقة",
      loading: "جارٍ تحميل بيانات الدفع\u2026",
      secured: "مؤمَّن بواسطة Kassa",
      test_mode: "وضع الاختبار",
      order_summary: "ملخص الطلب",
      item_quantity: "الكمية {n}",
      choose_method: "طريقة الدفع",
      method_card: "بطاقة",
      method_installments: "التقسيط بالبطاقة",
      method_wallet: "محفظة الهاتف المحمول",
      method_kiosk: "الدفع في منافذ أمان أو مصاري",
      method_cash: "الدفع عند الاستلام",
      card_number: "رقم البطاقة",
      card_name: "الاسم على البطاقة",
      card_expiry: "تاريخ الانتهاء",
      card_cvv: "رمز التحقق (CVV)",
      save_card: "حفظ البطاقة للمدفوعات القادمة",
      ph_card_number: "1234 5678 9012 3456",
      ph_card_name: "الاسم كما يظهر على البطاقة",
      ph_expiry: "MM/YY",
      ph_cvv: "123",
      cvv_hint: "3 أو 4 أرقام، غالبًا على ظهر البطاقة",
      wallet_phone: "رقم المحفظة",
      ph_wallet: "01010101010",
      wallet_hint: "ستؤكد الدفع في الصفحة التالية بالرقم السري لمحفظتك أو برمز نرسله إليك.",
      kiosk_info: "احصل على رقم مرجعي، ثم ادفع المبلغ نقدًا في أي منفذ أمان أو مصاري.",
      cash_info: "ادفع نقدًا لمندوب التوصيل عند استلام طلبك.",
      pay_amount: "ادفع {amount}",
      get_reference: "احصل على الرقم المرجعي",
      pay_cash: "الدفع نقدًا عند الاستلام",
      processing: "جارٍ المعالجة\u2026",
      redirecting: "جارٍ التحويل\u2026",
      err_card_number_required: "أدخل رقم البطاقة.",
      err_card_number_invalid: "رقم البطاقة غير صحيح. تحقق منه وحاول مرة أخرى.",
      err_card_name_required: "أدخل الاسم كما يظهر على البطاقة.",
      err_card_name_long: "الاسم طويل جدًا.",
      err_expiry_required: "أدخل تاريخ انتهاء البطاقة.",
      err_expiry_format: "أدخل تاريخ الانتهاء بالصيغة MM/YY.",
      err_expiry_past: "انتهت صلاحية هذه البطاقة.",
      err_cvv_required: "أدخل رمز التحقق.",
      err_cvv_invalid: "أدخل رمز التحقق المكوّن من 3 أو 4 أرقام.",
      err_cvv_amex: "أدخل الرمز المكوّن من 4 أرقام الموجود على وجه البطاقة.",
      err_phone_required: "أدخل رقم المحفظة.",
      err_phone_invalid: "أدخل رقم هاتف صحيحًا، مثل 01010101010.",
      err_fix_fields: "يرجى تصحيح الحقول المحددة.",
      err_load: "حدث خطأ أثناء تحميل بيانات الدفع.",
      err_incomplete_link: "رابط الدفع غير مكتمل. يرجى العودة إلى المتجر والمحاولة مرة أخرى.",
      err_no_methods: "لا توجد طرق دفع متاحة لهذه العملية.",
      err_network: "تعذّر الاتصال بخادم الدفع. تحقق من اتصالك بالإنترنت وحاول مرة أخرى.",
      err_generic: "تعذّر إتمام الدفع. يرجى المحاولة مرة أخرى.",
      err_session: "انتهت صلاحية جلسة الدفع. يرجى العودة إلى المتجر والبدء من جديد.",
      err_retries: "تجاوزت عدد محاولات الدفع المسموح بها. يرجى العودة إلى المتجر والبدء من جديد.",
      field_card_number: "رقم البطاقة",
      field_wallet: "رقم الهاتف",
      field_card_name: "الاسم على البطاقة",
      field_expiry: "تاريخ الانتهاء",
      field_cvv: "رمز التحقق",
      field_payment_token: "جلسة الدفع",
      already_paid_title: "تم الدفع مسبقًا",
      already_paid: "تم دفع هذا الطلب بالفعل، ولا حاجة لأي إجراء آخر.",
      ref_title: "الرقم المرجعي الخاص بك",
      ref_instructions: "ادفع في أي منفذ أمان أو مصاري باستخدام هذا الرقم المرجعي",
      ref_amount: "المبلغ المطلوب: {amount}",
      ref_note: "يتم تأكيد طلبك فور إتمام الدفع.",
      result_success: "تم الدفع بنجاح",
      result_pending: "الدفع قيد المعالجة",
      result_declined: "تم رفض الدفع",
      success_default: "شكرًا لك، تم استلام دفعتك.",
      pending_default: "جارٍ معالجة دفعتك، وسيؤكدها التاجر قريبًا.",
      declined_default: "لم تكتمل عملية الدفع. يمكنك المحاولة مرة أخرى أو استخدام طريقة دفع أخرى.",
      result_unverified: "تعذّر التحقق من نتيجة هذه العملية",
      unverified_default: "لا يمكن لهذه الصفحة تأكيد الدفع. راجع طلبك لدى التاجر، أو كشف حساب البطاقة أو المحفظة.",
      status_amount: "المبلغ",
      status_transaction: "رقم العملية",
      status_order: "رقم الطلب",
      status_reference: "مرجع التاجر",
      status_card: "البطاقة"
    }
  };

  var lang = "en";

  function normalizeLang(value) {
    var v = String(value || "").toLowerCase();
    if (v.indexOf("ar") === 0) return "ar";
    if (v.indexOf("en") === 0) return "en";
    return "";
  }

  // The `lang` query parameter wins; otherwise the browser's preferred language.
  function detectLang() {
    var fromQuery = normalizeLang(new URLSearchParams(window.location.search).get("lang"));
    if (fromQuery) return fromQuery;
    var preferred = (navigator.languages && navigator.languages[0]) || navigator.language || "";
    return normalizeLang(preferred) === "ar" ? "ar" : "en";
  }

  function t(key, vars) {
    var table = STRINGS[lang];
    var s = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : STRINGS.en[key];
    if (s === undefined) return key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
    });
  }

  // Sets <html lang dir> and every element's text, placeholder or aria-label marked with
  // data-i18n, data-i18n-placeholder or data-i18n-label.
  function setLang(next, dir) {
    lang = next === "ar" ? "ar" : "en";
    var root = document.documentElement;
    root.setAttribute("lang", lang);
    root.setAttribute("dir", dir || (lang === "ar" ? "rtl" : "ltr"));
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

  // Wires a link that switches to the other language in place (no reload, form values kept) and
  // keeps the address bar's `lang` parameter in step, so a reload shows the same language.
  function setUpLangToggle(link, onChange) {
    function refresh() {
      var url = new URL(window.location.href);
      url.searchParams.set("lang", t("other_lang_code"));
      link.setAttribute("href", url.pathname + url.search + url.hash);
      link.setAttribute("hreflang", t("other_lang_code"));
      link.setAttribute("lang", t("other_lang_code"));
      link.textContent = t("other_lang");
    }
    link.addEventListener("click", function (e) {
      e.preventDefault();
      setLang(t("other_lang_code"));
      var url = new URL(window.location.href);
      url.searchParams.set("lang", lang);
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
      refresh();
      onChange();
    });
    refresh();
  }

  // ---- amounts: integer minor units in, "EGP 1,234.50" out (never through floating point) ----

  var THREE_DECIMALS = ["OMR", "KWD", "BHD", "JOD", "IQD", "LYD", "TND"];

  function formatAmount(minor, currency) {
    var code = String(currency || "").toUpperCase();
    var decimals = THREE_DECIMALS.indexOf(code) >= 0 ? 3 : 2;
    var n = Math.round(Number(minor) || 0);
    var negative = n < 0;
    var digits = String(Math.abs(n));
    while (digits.length <= decimals) digits = "0" + digits;
    var major = digits.slice(0, digits.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var number = (negative ? "-" : "") + major + "." + digits.slice(digits.length - decimals);
    if (!code) return number;
    return lang === "ar" ? number + "\u00a0" + code : code + "\u00a0" + number;
  }

  // ---- card fields: the shared /static/kassa-card.js (window.KassaCard, loaded first) ----

  var C = window.KassaCard;

  function digitsOf(s) {
    return C.digitsOf(s);
  }

  function brandOf(digits) {
    var b = C.brandOf(digits);
    return b ? b.name : "";
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
    number: { required: "err_card_number_required", invalid: "err_card_number_invalid", luhn: "err_card_number_invalid" },
    expiry: { required: "err_expiry_required", format: "err_expiry_format", past: "err_expiry_past" },
    cvv: { required: "err_cvv_required", invalid: "err_cvv_invalid", amex: "err_cvv_amex" }
  };

  // Each check returns "" or a dictionary key.
  var cardChecks = {
    number: function (value) {
      var r = C.check.number(value);
      return r ? REASONS.number[r] : "";
    },
    name: function (value) {
      var v = String(value).trim();
      if (!v) return "err_card_name_required";
      if (v.length > 50) return "err_card_name_long";
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
    if (!v) return "err_phone_required";
    return /^\+?\d{8,15}$/.test(v) ? "" : "err_phone_invalid";
  }

  window.KassaPM = {
    detectLang: detectLang,
    normalizeLang: normalizeLang,
    lang: function () {
      return lang;
    },
    setLang: setLang,
    setUpLangToggle: setUpLangToggle,
    t: t,
    formatAmount: formatAmount,
    digitsOf: digitsOf,
    brandOf: brandOf,
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
