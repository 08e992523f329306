// Touchline dashboard: keeps the open page fresh without a reload, and
// shows times in the browser's zone. The page works without it (it then
// reloads itself through a <noscript> refresh).
(function () {
  "use strict";
  var secs = parseInt(document.body.getAttribute("data-refresh") || "15", 10);
  var status = document.querySelector("[data-testid=refresh-status]");
  var timer = null;

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var timeOnly = (el.getAttribute("data-testid") || "").indexOf("updated") === 0;
      el.title = d.toString();
      el.textContent = timeOnly ? d.toLocaleTimeString()
        : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    });
  }

  function say(text) { if (status) status.textContent = text; }

  async function refresh() {
    timer = null;
    if (document.hidden) return; // picked up again on visibilitychange
    try {
      var res = await fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } });
      if (res.redirected && new URL(res.url).pathname === "/login") { window.location.assign("/login"); return; }
      if (!res.ok) throw new Error("HTTP " + res.status);
      var doc = new DOMParser().parseFromString(await res.text(), "text/html");
      var fresh = doc.querySelector("main"), cur = document.querySelector("main");
      if (!fresh || !cur) throw new Error("unexpected page");
      // Keep what the reader opened.
      var open = {};
      cur.querySelectorAll("details[data-keep][open]").forEach(function (el) { open[el.getAttribute("data-keep")] = true; });
      fresh.querySelectorAll("details[data-keep]").forEach(function (el) { if (open[el.getAttribute("data-keep")]) el.open = true; });
      var main = document.adoptNode(fresh);
      localTimes(main);
      cur.replaceWith(main);
      say("");
    } catch (e) {
      say("could not refresh (" + e.message + "); retrying");
    }
    schedule();
  }

  function schedule() { if (secs > 0 && !timer) timer = setTimeout(refresh, secs * 1000); }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !timer) refresh();
  });
  localTimes(document);
  schedule();
})();
