// Kassa hosted checkout: progressive enhancement only. Every page works without this file; the
// server checks everything again. This script never sends card data anywhere itself: the form
// posts to the same origin as it would without it. Formatting, brand marks and the inline
// checks of the card fields come from the shared /static/kassa-card.js, loaded before this.
// Words shown while waiting come from the page (data-processing, data-processing-status,
// data-wait), in the page's language. The intent's machine status is #status's data-status.
(function () {
  "use strict";

  function setUpPaymentForm(form) {
    var pay = document.getElementById("pay");
    var status = document.getElementById("pay-status");
    var payLabel = pay ? pay.textContent : "";
    var busyLabel = form.getAttribute("data-processing") || "Processing\u2026";
    var busyStatus = form.getAttribute("data-processing-status") || "Processing your payment\u2026";
    var submitting = false;

    form.addEventListener("submit", function (e) {
      if (submitting) {
        e.preventDefault();
        return;
      }
      // kassa-card.js (loaded first) stopped a form with a field to fix.
      if (e.defaultPrevented) return;
      submitting = true;
      if (pay) {
        pay.disabled = true;
        pay.setAttribute("aria-busy", "true");
        pay.textContent = busyLabel;
      }
      if (status) status.textContent = busyStatus;
    });

    // Coming back with the Back button may restore this page from the cache, button disabled.
    window.addEventListener("pageshow", function (e) {
      if (!e.persisted) return;
      submitting = false;
      if (pay) {
        pay.disabled = false;
        pay.removeAttribute("aria-busy");
        pay.textContent = payLabel;
      }
      if (status) status.textContent = "";
    });
  }

  function setUpChallengeForm(form) {
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button[type=submit]"));
    var labels = buttons.map(function (b) {
      return b.textContent;
    });
    var sent = false;
    var wait = form.getAttribute("data-wait") || "Please wait\u2026";
    form.addEventListener("submit", function (e) {
      if (sent) {
        e.preventDefault();
        return;
      }
      sent = true;
      var clicked = e.submitter;
      // Disable after the browser has read the clicked button's name and value.
      window.setTimeout(function () {
        buttons.forEach(function (b) {
          b.disabled = true;
        });
        if (clicked) clicked.textContent = wait;
      }, 0);
    });
    window.addEventListener("pageshow", function (e) {
      if (!e.persisted) return;
      sent = false;
      buttons.forEach(function (b, i) {
        b.disabled = false;
        b.textContent = labels[i];
      });
    });
  }

  var payment = document.getElementById("payment-form");
  if (payment) setUpPaymentForm(payment);
  var challenge = document.getElementById("challenge-form");
  if (challenge) setUpChallengeForm(challenge);
})();
