// Small behaviours shared by all pages; every page works without them.
(function () {
  "use strict";

  // Forms that need a second thought (cancelling a run) ask first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // A progress fragment that cannot be fetched says so instead of freezing silently;
  // htmx keeps polling and the note goes away with the next good answer.
  function note(elt, text) {
    var box = elt && elt.closest && elt.closest("[hx-get]");
    if (!box) { return; }
    var id = box.id ? box.id + "-stale" : "";
    var existing = box.parentNode.querySelector(".stale-note");
    if (!text) { if (existing) { existing.remove(); } return; }
    if (!existing) {
      existing = document.createElement("p");
      existing.className = "stale-note";
      if (id) { existing.id = id; }
      existing.setAttribute("role", "status");
      box.parentNode.insertBefore(existing, box.nextSibling);
    }
    existing.textContent = text;
  }
  document.addEventListener("htmx:sendError", function (event) {
    note(event.target, "Cannot reach trainwatch right now; retrying…");
  });
  document.addEventListener("htmx:responseError", function (event) {
    note(event.target, "The progress could not be read (error " + event.detail.xhr.status + "); retrying…");
  });
  document.addEventListener("htmx:afterSwap", function (event) { note(event.target, ""); });

  // No inline handlers anywhere (the Content-Security-Policy allows scripts from this site
  // only): the behaviours pages ask for with data- attributes live here.

  // A form with data-clears="id" empties that element after its own request (the search form
  // clears its suggestion list).
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    var id = elt && elt.getAttribute && elt.getAttribute("data-clears");
    var box = id && document.getElementById(id);
    if (box) { box.replaceChildren(); }
  });

  // A sheet picker shows the chosen sheet at once (the mapping step).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-preview-on-change") && el.form) {
      var button = el.form.querySelector("button[value=preview]");
      if (button) { button.click(); }
    }
  });

  // A field with data-select-on-focus is selected whole when focused (a new API token).
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-select-on-focus")) { el.select(); }
  });

  // A button with data-copy="id" copies that field's value (a new API token).
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (field && navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(function () { button.textContent = "Copied"; });
    }
  });
})();
