// Polls the run's status while it is in progress and reloads the page once it has finished.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || box.dataset.finished === "1") { return; }
  var url = box.dataset.statusUrl;
  var bar = document.getElementById("run-progress");
  var count = document.getElementById("run-count");
  var status = document.getElementById("run-status");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.value = s.percent;
        bar.textContent = s.percent + "%";
        count.textContent = s.rows_done.toLocaleString() + " / " + s.total_rows.toLocaleString() + " rows";
        status.textContent = s.status;
        if (["done", "failed", "cancelled"].indexOf(s.status) >= 0) {
          window.location.reload();
        } else {
          window.setTimeout(tick, 1000);
        }
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  window.setTimeout(tick, 500);
})();
