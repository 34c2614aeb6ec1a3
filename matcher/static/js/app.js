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
})();
