// Follow a broadcast: refresh its counts and progress bar every 2 s until it ends.
(function () {
  "use strict";
  var box = document.getElementById("broadcast");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var keys = ["queued", "sent", "delivered", "read", "failed"];
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var c = data.counts;
        keys.forEach(function (k) {
          var cell = document.getElementById("c-" + k);
          if (cell) { cell.textContent = String(c[k]); }
        });
        var bar = document.getElementById("progress");
        bar.max = Math.max(data.recipients, 1);
        bar.value = c.sent + c.delivered + c.read + c.failed;
        document.getElementById("state").textContent = data.state_label;
        if (data.state !== "done" && data.state !== "cancelled") {
          window.setTimeout(refresh, 2000);
        }
      })
      .catch(function () { window.setTimeout(refresh, 5000); });
  }
  window.setTimeout(refresh, 2000);
}());
