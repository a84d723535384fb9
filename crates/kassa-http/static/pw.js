// Paymentwall-compatible payment page: client-side callbacks to the parent window (when framed)
// and the redirect to success_url (when not framed). Messages are JSON strings
// {"event": name, "data": {...}}, posted with target origin "*" (the merchant's origin is not
// known to the page; frame-ancestors limits who may frame it).
(function () {
  "use strict";
  var root = document.getElementById("pw");
  if (!root) { return; }
  var framed = window.parent && window.parent !== window;
  var callbacks = root.getAttribute("data-callbacks") === "1";
  var state = root.getAttribute("data-state");

  function post(name, data) {
    if (!framed || !callbacks) { return; }
    var msg = { event: name };
    if (data !== undefined) { msg.data = data; }
    try { window.parent.postMessage(JSON.stringify(msg), "*"); } catch (e) { /* parent gone */ }
  }

  function size() {
    var d = document.documentElement;
    post("widgetSizeChanged", { height: d.scrollHeight + "px", width: d.scrollWidth + "px" });
  }

  post("widgetLoaded");
  size();
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    if (resizeTimer) { clearTimeout(resizeTimer); }
    resizeTimer = setTimeout(size, 150);
  });

  var forms = document.querySelectorAll("#pay-form, #action-form");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (e) {
      // kassa-card.js (loaded first) stopped a card form with a field to fix.
      if (e.defaultPrevented) { return; }
      var button = form.querySelector("button[type=submit]");
      post("paymentProcessingStart");
      // One submission per rendered form; the server would ignore a second one anyway.
      setTimeout(function () {
        Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
      }, 0);
      if (button) { button.setAttribute("aria-busy", "true"); }
    });
  });

  if (state === "methods" || (state === "form" && document.getElementById("decline"))) {
    post("paymentProcessingEnd");
  }

  if (state === "success") {
    var payment = null;
    try { payment = JSON.parse(root.getAttribute("data-payment") || "null"); } catch (e) { payment = null; }
    post("paymentProcessingEnd");
    post("paymentSuccess", payment || {});
    var url = root.getAttribute("data-success-url");
    if (url && !framed) {
      setTimeout(function () { window.location.assign(url); }, 3000);
    }
  }

  // The voucher's reference: Copy puts the digits (no spaces) on the clipboard and says so;
  // without the clipboard API (or permission) the reference is selected for the payer to copy.
  var copy = document.getElementById("copy-reference");
  var reference = document.getElementById("voucher");
  var status = document.getElementById("copy-status");
  function announce(text) {
    if (!status) { return; }
    status.textContent = "";
    setTimeout(function () { status.textContent = text; }, 50);
  }
  function selectReference() {
    if (!reference || !window.getSelection) { return; }
    var range = document.createRange();
    range.selectNodeContents(reference);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    announce(copy.getAttribute("data-selected") || "");
  }
  if (copy && reference) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var value = copy.getAttribute("data-copy") || "";
      if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext !== false) {
        navigator.clipboard.writeText(value).then(function () {
          announce(copy.getAttribute("data-copied") || "");
        }, selectReference);
      } else {
        selectReference();
      }
    });
  }

  if (state === "processing") {
    setTimeout(function () { window.location.reload(); }, 1500);
  }
})();
