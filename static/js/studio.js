// Live updates without per-card requests: every element with data-poll gets a
// "studio:poll" event at its interval while the tab is visible. In a background tab
// only elements with data-poll-hidden are polled, at that (slower) interval: the
// gallery sets it while one of my jobs runs, so it can say when the job is done.
// htmx does the request (hx-trigger="studio:poll"); when the server answers with an
// element that has no data-poll, polling stops by itself.
//
// The time of the last poll is kept here by element id, not on the element: the
// answer replaces the element (hx-swap="outerHTML"), and a mark on it would be lost
// with it, making every 500 ms tick poll again (4x the documented interval).
(function () {
  "use strict";
  var polledAt = {};
  function tick() {
    var visible = document.visibilityState === "visible";
    var now = Date.now();
    document.querySelectorAll(visible ? "[data-poll]" : "[data-poll-hidden]").forEach(function (el) {
      var every = parseInt(el.getAttribute(visible ? "data-poll" : "data-poll-hidden"), 10) || 2000;
      var key = el.id || el.getAttribute("hx-get") || "";
      if (now - (polledAt[key] || 0) >= every && !el.classList.contains("htmx-request")) {
        polledAt[key] = now;
        htmx.trigger(el, "studio:poll");
      }
    });
  }
  setInterval(tick, 500);
  document.addEventListener("visibilitychange", tick);

  // Copy buttons: <button data-copy="#id"> copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.value || source.textContent.trim());
      button.textContent = document.body.dataset.copied || "Copied"; // in the page's language
    }
  });
})();
