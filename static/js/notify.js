// "Notice when it's done": when one of my jobs finishes while the gallery's tab is in the
// background, the title counts it, the favicon gets a badge, and a browser notification
// appears if the user allowed them (the "Notify me" button asks). My cards carry
// data-mine; the gallery's poll swaps them in with their new data-status.
(function () {
  "use strict";
  var PENDING = { queued: true, submitted: true, processing: true };
  var seen = {}; // card id -> the status it had when last looked at
  var done = 0; // my jobs finished since the tab was last visible
  var title = document.title;
  var icon = document.querySelector('link[rel="icon"][type="image/svg+xml"]');
  var plainIcon = icon ? icon.getAttribute("href") : "";
  var script = document.currentScript;
  var badgeIcon = script ? script.getAttribute("data-badge-icon") : "";

  function canNotify() {
    return "Notification" in window && Notification.permission === "granted";
  }

  function announce(card) {
    done += 1;
    var status = card.getAttribute("data-status");
    document.title = "(" + done + ") " + (done === 1 ? "1 job done" : done + " jobs done") + " · " + title;
    if (icon && badgeIcon) icon.setAttribute("href", badgeIcon);
    if (canNotify()) {
      var prompt = card.querySelector(".prompt");
      try {
        new Notification(status === "succeeded" ? "Video ready" : "Job " + status, {
          body: prompt ? prompt.textContent.trim() : "",
          tag: card.id, // one notification per job, even if its card comes twice
        });
      } catch (error) {
        // Some mobile browsers only notify from a service worker: title and icon still say it.
      }
    }
  }

  function look() {
    document.querySelectorAll("article.gen[data-mine]").forEach(function (card) {
      var status = card.getAttribute("data-status");
      var before = seen[card.id];
      seen[card.id] = status;
      if (before && PENDING[before] && !PENDING[status] && document.visibilityState !== "visible") {
        announce(card);
      }
    });
  }

  function reset() {
    if (document.visibilityState !== "visible") return;
    done = 0;
    document.title = title;
    if (icon) icon.setAttribute("href", plainIcon);
  }

  function setUpButton() {
    var button = document.getElementById("notify-me");
    if (!button || !("Notification" in window)) return;
    button.hidden = Notification.permission !== "default";
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () {
        button.hidden = Notification.permission !== "default";
      });
    });
  }

  document.addEventListener("htmx:afterSettle", look);
  document.addEventListener("htmx:oobAfterSwap", look);
  document.addEventListener("visibilitychange", reset);
  function start() {
    look();
    setUpButton();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
