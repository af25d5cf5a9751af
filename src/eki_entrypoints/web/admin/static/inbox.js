/* The staff inbox (/admin/inbox): live updates and quick replies.
 * Served from the package (no CDN, the CSP allows only 'self'); needs live.js before it.
 * On every event of /admin/events (window.EkiLive) the server-rendered fragment of the list
 * or of the thread is fetched again and swapped in; forms stay untouched, so nothing typed
 * is lost. Without EventSource it polls every 5 seconds; while the stream is down, every
 * 10 seconds. */
(function () {
  "use strict";

  var quick = {};
  document.querySelectorAll("#quick-replies li[data-shortcut]").forEach(function (li) {
    var body = li.querySelector("span");
    quick[li.getAttribute("data-shortcut")] = body ? body.textContent : "";
  });
  document.querySelectorAll("textarea[data-quick]").forEach(function (area) {
    area.addEventListener("input", function () {
      var value = area.value;
      var match = /(^|\s)\/([a-z0-9][a-z0-9_-]{0,29})(\s)$/.exec(value);
      if (match && Object.prototype.hasOwnProperty.call(quick, match[2])) {
        area.value = value.slice(0, match.index + match[1].length) + quick[match[2]] + match[3];
      }
    });
  });
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var live = document.querySelector("[data-live]");
  if (!live) { return; }
  var url = live.getAttribute("data-fragment");
  var phone = live.getAttribute("data-phone");
  var busy = false, again = false, timer = null, polling = null;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.redirected) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (typeof html === "string") {
          live.innerHTML = html;
          live.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* the next event or poll tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function soon() { window.clearTimeout(timer); timer = window.setTimeout(refresh, 100); }
  function poll() { if (!polling) { polling = window.setInterval(refresh, 5000); } }
  if (!url) { return; }
  // Waiting times and the 24-hour badges move with the clock: re-read once a minute.
  window.setInterval(refresh, 60000);

  var live_events = window.EkiLive;
  if (!window.EventSource || !live_events) { poll(); return; }
  live_events.subscribe(function (event) {
    if (phone && event && event.phone && event.phone !== phone) { return; }
    soon();
  });
  live_events.onReset(soon);  // events of a gap are not replayed: read the state again
  // What happened between rendering the page and the stream opening is not replayed
  // either: read the state once when the stream first opens.
  var opening = window.setInterval(function () {
    if (live_events.status() === "open") { window.clearInterval(opening); soon(); }
  }, 100);
  // A safety net while the stream is down (signed out, server restarting): poll slowly.
  window.setInterval(function () {
    var open = live_events.status() === "open";
    live.setAttribute("data-stream", open ? "open" : "down");
    if (!open) { refresh(); }
  }, 10000);
}());
