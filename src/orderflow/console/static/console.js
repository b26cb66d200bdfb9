// orderflow console: keep the live regions current. Each element with data-live="URL" is
// refreshed from URL (the same page, ?part=live) every few seconds while the tab is visible.
// A region is left alone while someone types in it. A 401 means the session ended: reload,
// which leads to the sign-in page. No other script runs on these pages.
(function () {
  "use strict";
  var EVERY_MS = 2000;

  function busy(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    return region.querySelector("[data-dirty]") !== null;
  }

  function refresh(region) {
    if (document.hidden || busy(region)) { return Promise.resolve(); }
    return fetch(region.getAttribute("data-live"), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "orderflow-console" },
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) { document.body.classList.add("stale"); return; }
      return response.text().then(function (html) {
        document.body.classList.remove("stale");
        if (!busy(region) && region.orderflowLast !== html) {
          region.orderflowLast = html;
          region.innerHTML = html;
        }
      });
    }).catch(function () { document.body.classList.add("stale"); });
  }

  function start() {
    var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
    document.addEventListener("input", function (event) {
      var target = event.target;
      if (target && target.setAttribute) { target.setAttribute("data-dirty", ""); }
    });
    if (!regions.length) { return; }
    window.setInterval(function () { regions.forEach(refresh); }, EVERY_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
