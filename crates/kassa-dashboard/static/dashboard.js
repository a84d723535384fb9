// The dashboard's one script. Every page works without it; it only adds copy buttons and a
// confirmation before forms marked `confirm` move money or change keys.
"use strict";
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("button.copy");
  if (!btn) return;
  var target = document.querySelector(btn.getAttribute("data-copy"));
  if (!target || !navigator.clipboard) return;
  navigator.clipboard.writeText(target.innerText.trim()).then(function () {
    var was = btn.textContent;
    btn.textContent = "Copied";
    setTimeout(function () { btn.textContent = was; }, 1500);
  });
});
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!form.classList || !form.classList.contains("confirm")) return;
  if (form.dataset.confirmed === "1") return;
  if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) {
    ev.preventDefault();
  }
});
