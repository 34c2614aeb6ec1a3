// Keyboard review on the evidence page: j / → next match, k / ← previous, c confirm, r reject,
// u unsure, n focus the note, z undo (the verdict just recorded, else this match's last change).
// Keys typed into a field are left alone; Esc leaves the field.
(function () {
  "use strict";
  var form = document.getElementById("verdict-form");

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link && link.href) { window.location.assign(link.href); return true; }
    return false;
  }

  // One key press sends one form: keys pressed while that page is loading (a stray repeat of
  // c or r) are ignored, instead of recording the verdict again and again on the same match.
  var sent = false;
  window.addEventListener("pageshow", function () { sent = false; });

  function verdict(value) {
    if (!form || sent) { return false; }
    var button = form.querySelector('button[name="value"][value="' + value + '"]');
    if (!button || button.disabled) { return false; }
    button.focus();
    sent = true;
    if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
    return true;
  }

  // Undo is a POST form of the page (with its CSRF token); the key only submits it.
  function undo() {
    var undoForm = document.getElementById("undo-last-form") || document.getElementById("undo-form");
    if (!undoForm || sent) { return false; }
    sent = true;
    if (undoForm.requestSubmit) { undoForm.requestSubmit(); } else { undoForm.submit(); }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (typing(event.target)) { return; }
    var done = false;
    switch (event.key) {
      case "j": case "ArrowRight": done = follow("next-match"); break;
      case "k": case "ArrowLeft": done = follow("prev-match"); break;
      case "c": done = verdict("confirmed"); break;
      case "r": done = verdict("rejected"); break;
      case "u": done = verdict("unsure"); break;
      case "z": done = undo(); break;
      case "n":
        var note = document.getElementById("verdict-note");
        if (note) { note.focus(); done = true; }
        break;
    }
    if (done) { event.preventDefault(); }
  });

  // Arriving from a verdict or a previous/next step, start reading at the match's heading
  // (not at the top of the page), so the next key press acts on this match.
  var heading = document.getElementById("evidence-h");
  if (heading && !window.location.hash) { heading.focus({ preventScroll: true }); }
})();
