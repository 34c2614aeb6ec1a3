// Upload page: drop a file on the zone (or pick it), see the upload's progress, then land on
// the column mapping page. Without this script the plain form posts the same way.
(function () {
  "use strict";

  function sizeText(bytes) {
    if (bytes >= 1024 * 1024) { return (bytes / (1024 * 1024)).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function init() {
    var form = document.getElementById("upload-form");
    var zone = document.getElementById("dropzone");
    var input = document.getElementById("id_file");
    if (!form || !zone || !input || form.dataset.ready) { return; }
    form.dataset.ready = "1";
    var chosen = document.getElementById("dropzone-file");
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-progress");
    var barText = document.getElementById("upload-progress-text");
    var button = document.getElementById("upload-button");
    var maxBytes = parseInt(form.dataset.maxBytes || "0", 10);

    function problem(text) {
      var box = document.getElementById("upload-js-error");
      if (!text) { if (box) { box.remove(); } return; }
      if (!box) {
        box = document.createElement("p");
        box.id = "upload-js-error";
        box.className = "error";
        box.setAttribute("role", "alert");
        form.insertBefore(box, status);
      }
      box.textContent = text;
    }

    function describe() {
      var file = input.files && input.files[0];
      problem("");
      if (!file) { chosen.textContent = ""; return; }
      chosen.textContent = "Chosen: " + file.name + " (" + sizeText(file.size) + ")";
      if (maxBytes && file.size > maxBytes) {
        problem('"' + file.name + '" is larger than ' + sizeText(maxBytes) +
          ", the most one upload may be. Split the catalog into smaller files and upload them one by one.");
      }
    }
    input.addEventListener("change", describe);

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragover");
      });
    });
    ["dragleave", "dragend", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) { return; }
      try {
        var transfer = new DataTransfer();
        transfer.items.add(files[0]);
        input.files = transfer.files;
      } catch (e) {
        input.files = files;
      }
      describe();
      input.focus();
    });

    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }  // the plain post then
      var file = input.files && input.files[0];
      if (!file) { return; }  // the browser's own "required" message
      event.preventDefault();
      if (maxBytes && file.size > maxBytes) { describe(); return; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      status.hidden = false;
      button.disabled = true;
      button.textContent = "Uploading…";
      bar.value = 0;
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var percent = Math.floor((100 * e.loaded) / e.total);
        bar.value = percent;
        bar.textContent = percent + "%";
        barText.textContent = sizeText(e.loaded) + " of " + sizeText(e.total) + " sent (" + percent + "%)";
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        barText.textContent = "Sent. Reading the file…";
      });
      xhr.addEventListener("load", function () {
        // Success is a redirect to the mapping page, which XHR has followed already.
        if (xhr.status < 400 && xhr.responseURL && xhr.responseURL !== form.action) {
          window.location.assign(xhr.responseURL);
          return;
        }
        // Refused: show the page the server answered with (it says what is wrong).
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = page.querySelector("main");
        if (main) {
          document.querySelector("main").innerHTML = main.innerHTML;
          init();
          var alert = document.querySelector("main [role=alert]");
          if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
        } else {
          reset();
          problem("The upload failed (error " + xhr.status + "). Try again in a moment.");
        }
      });
      xhr.addEventListener("error", function () {
        reset();
        problem("The upload was interrupted. Check your connection and upload the file again.");
      });
      xhr.send(new FormData(form));
    });

    function reset() {
      status.hidden = true;
      button.disabled = false;
      button.textContent = "Upload";
    }
  }

  init();
})();
