// Kassa hosted checkout: progressive enhancement only. Every page works without this file; the
// server checks everything again. This script never sends card data anywhere itself: the form
// posts to the same origin as it would without it.
(function () {
  "use strict";

  function digitsOf(s) {
    return s.replace(/\D/g, "");
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

  function isAmex(digits) {
    return /^3[47]/.test(digits);
  }

  function groupsOfFour(digits) {
    return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  // Parses "MM / YY", "MM/YY", "MMYY" or "MM/YYYY" into {month, year}, or null.
  function parseExpiry(value) {
    var compact = value.replace(/\s/g, "");
    var m = /^(\d{1,2})\/(\d{2}|\d{4})$/.exec(compact) || /^(\d{2})(\d{2}|\d{4})$/.exec(compact);
    if (!m) return null;
    var month = parseInt(m[1], 10);
    var year = parseInt(m[2], 10);
    if (m[2].length === 2) year += 2000;
    if (month < 1 || month > 12) return null;
    return { month: month, year: year };
  }

  var checks = {
    number: function (value) {
      var v = value.trim();
      if (!v) return "Enter your card number.";
      if (/[^\d\s-]/.test(v)) return "This card number is not valid.";
      var d = digitsOf(v);
      if (d.length < 12 || d.length > 19) return "This card number is not valid.";
      if (!luhnValid(d)) return "This card number is incorrect. Check it and try again.";
      return "";
    },
    exp: function (value) {
      if (!value.trim()) return "Enter the expiry date.";
      var e = parseExpiry(value);
      if (!e || e.year > 2099) return "Enter the expiry date as MM / YY.";
      var now = new Date();
      var y = now.getFullYear();
      var mo = now.getMonth() + 1;
      // A card is valid through the end of its expiry month.
      if (e.year < y || (e.year === y && e.month < mo)) return "This card has expired.";
      return "";
    },
    cvc: function (value, form) {
      var v = value.trim();
      if (!v) return "Enter the security code.";
      var number = digitsOf(form.elements.number.value);
      if (isAmex(number)) {
        return /^\d{3,4}$/.test(v) ? "" : "Enter the 3- or 4-digit security code.";
      }
      if (number.length >= 12) {
        return /^\d{3}$/.test(v) ? "" : "Enter the 3-digit security code on the back of the card.";
      }
      return /^\d{3,4}$/.test(v) ? "" : "Enter the 3- or 4-digit security code.";
    },
    name: function (value) {
      return value.trim().length > 100 ? "The name is too long." : "";
    }
  };

  function showError(input, message) {
    var out = document.getElementById(input.id + "-error");
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    // Writing the same text again would make screen readers repeat it.
    if (out && out.textContent !== message) out.textContent = message;
  }

  function validate(input, form) {
    var message = checks[input.name](input.value, form);
    showError(input, message);
    return message;
  }

  function formatNumber(input) {
    var caretDigits = digitsOf(input.value.slice(0, input.selectionStart || 0)).length;
    var formatted = groupsOfFour(digitsOf(input.value).slice(0, 19));
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

  function formatExpiry(input, deleting) {
    var raw = input.value;
    var full = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(raw);
    var out;
    if (full) {
      // Pasted or autofilled "1/29", "12/2029": normalise to "MM / YY".
      out = ("0" + full[1]).slice(-2) + " / " + full[2].slice(-2);
    } else if (/^\s*\d\s*\/\s*$/.test(raw)) {
      // "1/" means January.
      out = "0" + digitsOf(raw) + " / ";
    } else {
      var d = digitsOf(raw).slice(0, 4);
      // A first digit above 1 can only be a one-digit month.
      if (d.length === 1 && d > "1") d = "0" + d;
      if (d.length > 2) out = d.slice(0, 2) + " / " + d.slice(2);
      else if (d.length === 2 && !deleting) out = d + " / ";
      else out = d;
    }
    if (out !== raw) input.value = out;
  }

  function setUpPaymentForm(form) {
    var pay = document.getElementById("pay");
    var status = document.getElementById("pay-status");
    var payLabel = pay ? pay.textContent : "";
    var fields = ["number", "exp", "cvc", "name"]
      .map(function (n) { return form.elements[n]; })
      .filter(Boolean);
    var submitting = false;

    // Our own messages replace the browser's bubbles; the server checks again regardless.
    form.noValidate = true;

    fields.forEach(function (input) {
      input.addEventListener("input", function (e) {
        var deleting = e.inputType && e.inputType.indexOf("delete") === 0;
        if (input.name === "number") formatNumber(input);
        if (input.name === "exp") formatExpiry(input, deleting);
        if (input.name === "cvc") {
          var c = digitsOf(input.value).slice(0, 4);
          if (c !== input.value) input.value = c;
        }
        // Clear a shown error as soon as the field is right; do not nag while typing.
        if (input.getAttribute("aria-invalid") === "true") validate(input, form);
      });
      input.addEventListener("blur", function () {
        if (input.value.trim() || input.getAttribute("aria-invalid") === "true") {
          validate(input, form);
        }
      });
    });

    form.addEventListener("submit", function (e) {
      if (submitting) {
        e.preventDefault();
        return;
      }
      var firstBad = null;
      fields.forEach(function (input) {
        if (validate(input, form) && !firstBad) firstBad = input;
      });
      if (firstBad) {
        e.preventDefault();
        firstBad.focus();
        return;
      }
      submitting = true;
      if (pay) {
        pay.disabled = true;
        pay.setAttribute("aria-busy", "true");
        pay.textContent = "Processing\u2026";
      }
      if (status) status.textContent = "Processing your payment\u2026";
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
        if (clicked) clicked.textContent = "Please wait\u2026";
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
