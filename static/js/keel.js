// Keel's small interactions, with no inline script (a Content Security Policy can forbid those):
// the phone navigation, confirmations before destructive actions, copy buttons.
// Every page works without it: the nav stays open, forms submit, secrets can be selected.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // The nav collapses behind "Menu" on a phone (the CSS hides it only when this script runs).
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("site-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }

    // A form whose submit button says data-confirm="..." asks first, in a modal dialog.
    var dialog = null;
    function confirmDialog(message, label, onConfirm) {
      if (!dialog) {
        dialog = document.createElement("dialog");
        dialog.className = "modal";
        dialog.setAttribute("aria-labelledby", "confirm-title");
        dialog.innerHTML =
          '<h2 id="confirm-title">Are you sure?</h2><p class="confirm-message"></p>' +
          '<div class="form-actions"><button type="button" class="secondary" value="cancel">Cancel</button>' +
          '<button type="button" class="danger" value="confirm"></button></div>';
        document.body.appendChild(dialog);
      }
      dialog.querySelector(".confirm-message").textContent = message;
      var yes = dialog.querySelector('[value="confirm"]');
      var no = dialog.querySelector('[value="cancel"]');
      yes.textContent = label || "Confirm";
      yes.onclick = function () { dialog.close(); onConfirm(); };
      no.onclick = function () { dialog.close(); };
      dialog.showModal();
      no.focus();
    }
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var button = event.submitter || form.querySelector("[data-confirm]");
      var message = (button && button.dataset.confirm) || form.dataset.confirm;
      if (!message || form.dataset.confirmed === "yes" || typeof HTMLDialogElement === "undefined") return;
      event.preventDefault();
      confirmDialog(message, button ? button.textContent.trim() : "", function () {
        form.dataset.confirmed = "yes";
        if (form.requestSubmit) form.requestSubmit(button && button.form === form ? button : undefined);
        else form.submit();
      });
    });

    // A table or code block wider than its box scrolls: keyboard users reach it with Tab.
    document.querySelectorAll(".table-wrap, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        var heading = box.closest(".card") && box.closest(".card").querySelector("h2");
        box.setAttribute("aria-label", (heading ? heading.textContent.trim() + ", " : "") + "scrolls sideways");
      }
    });

    // <button data-copy="#id"> copies that element's text.
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        if (!source || !navigator.clipboard) return;
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  });
})();
