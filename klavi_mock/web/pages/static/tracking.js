/* Web tracking events of the hosted pages (docs.klavi.ai/connect/web-tracking-events):
   each {eventName, payload} goes to the window that opened this one (a popup) and to a React
   Native WebView bridge when there is one. (No other site may frame the pages: their policy
   says frame-ancestors 'none'.) The page's own events
   (page_view, authorise_success...) are in #klavi-tracking; clicks on [data-track] elements
   add theirs; page_duration goes when the page is left. The events only the browser sees
   (clicks on [data-track-post] elements, page_duration) are also posted to data-beacon, so
   the mock records them and sends them to the partner's event webhook like the others. */
(function () {
  var holder = document.getElementById("klavi-tracking");
  if (!holder) return;
  var page = holder.getAttribute("data-page");
  var beacon = holder.getAttribute("data-beacon");
  var started = Date.now();
  var durationSent = false;

  function emit(eventName, payload) {
    var message = { eventName: eventName, payload: payload || {} };
    var targets = [];
    if (window.opener && window.opener !== window) targets.push(window.opener);
    targets.forEach(function (target) {
      try { target.postMessage(message, "*"); } catch (e) { /* a closed opener */ }
    });
    if (window.ReactNativeWebView && window.ReactNativeWebView.postMessage) {
      window.ReactNativeWebView.postMessage(JSON.stringify(message));
    }
  }

  function post(eventName, payload) {
    if (!beacon) return;
    var body = JSON.stringify({ page: page, eventName: eventName, payload: payload || {} });
    // sendBeacon survives the page being left (page_duration); fetch where it is missing
    if (navigator.sendBeacon && navigator.sendBeacon(beacon, new Blob([body], { type: "application/json" }))) return;
    try {
      fetch(beacon, { method: "POST", body: body, headers: { "Content-Type": "application/json" }, keepalive: true, credentials: "omit" });
    } catch (e) { /* tracking never breaks the page */ }
  }

  var events = [];
  try { events = JSON.parse(holder.getAttribute("data-events") || "[]"); } catch (e) { events = []; }
  events.forEach(function (e) { emit(e.eventName, e.payload); });

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-track]") : null;
    if (!el || el.disabled) return;
    var payload = {};
    try { payload = JSON.parse(el.getAttribute("data-track-payload") || "{}"); } catch (e) { payload = {}; }
    emit(el.getAttribute("data-track"), payload);
    if (el.hasAttribute("data-track-post")) post(el.getAttribute("data-track"), payload);
  }, true);

  function leave() {
    if (durationSent) return;
    durationSent = true;
    var duration = { page: page, durationMs: Date.now() - started };
    emit("page_duration", duration);
    post("page_duration", duration);
  }
  window.addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") leave(); });
})();
