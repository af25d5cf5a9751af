/* EKI live events for the admin site (issue #15): one EventSource on /admin/events shared
 * by every listener of the page, reconnecting by itself. No dependency, no inline code (the
 * CSP stays strict): include it with <script src="/admin/static/live.js" defer></script>.
 *
 *   const stop = window.EkiLive.subscribe(function (event) {
 *     // event: {"type": "message.received", "phone": "+57…", "at": "…", "student_id": 7, …}
 *   });
 *   window.EkiLive.onReset(function () { ... read the page's data again ... });
 *   window.EkiLive.status();  // "connecting" | "open" | "closed"
 *
 * After a gap (the server reset the stream, the connection dropped) the "reset" listeners
 * run once the stream is open again: events of the gap are not replayed, so read the
 * current state again then.
 */
(function () {
  "use strict";
  var URL = "/admin/events";
  var listeners = [];
  var resetListeners = [];
  var source = null;
  var state = "closed";
  var hadOpen = false;
  var retryTimer = null;
  var delay = 2000;

  function call(list, value) {
    list.slice().forEach(function (fn) {
      try { fn(value); } catch (err) { if (window.console) { console.error(err); } }
    });
  }

  function connect() {
    if (source || !listeners.length) { return; }
    state = "connecting";
    source = new EventSource(URL, { withCredentials: true });
    source.onopen = function () {
      state = "open";
      delay = 2000;
      if (hadOpen) { call(resetListeners, { reason: "reconnected" }); }
      hadOpen = true;
    };
    source.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      call(listeners, event);
    };
    // "event: reset" (the stream fell behind, the server lost events or is stopping) is
    // followed by the end of the stream: the reset listeners run once the browser is
    // connected again (onopen), when the state can be read again.
    source.onerror = function () {
      // The browser retries by itself unless the stream is closed for good (signed out:
      // the answer was not an event stream, or a 503). Then try again later, slower.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        state = "closed";
        if (retryTimer === null && listeners.length) {
          retryTimer = window.setTimeout(function () { retryTimer = null; connect(); }, delay);
          delay = Math.min(delay * 2, 60000);
        }
      } else {
        state = "connecting";
      }
    };
  }

  function disconnect() {
    if (source) { source.close(); source = null; }
    state = "closed";
  }

  window.EkiLive = {
    subscribe: function (fn) {
      listeners.push(fn);
      connect();
      return function unsubscribe() {
        var i = listeners.indexOf(fn);
        if (i >= 0) { listeners.splice(i, 1); }
        if (!listeners.length) { disconnect(); }
      };
    },
    onReset: function (fn) {
      resetListeners.push(fn);
      return function () {
        var i = resetListeners.indexOf(fn);
        if (i >= 0) { resetListeners.splice(i, 1); }
      };
    },
    status: function () { return state; }
  };
})();
