// Team review: comment timecodes on the detail page and synchronised playback in compare.
// Loaded once per page; everything works by event delegation, so panels swapped in by
// htmx need no re-initialisation.
(function () {
  "use strict";
  if (window.studioReview) return; // the judging panel may load this file again
  window.studioReview = true;

  function player() {
    return document.getElementById("player");
  }

  function label(seconds) {
    var m = Math.floor(seconds / 60);
    var s = (seconds - m * 60).toFixed(1);
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  // A comment posted while the video plays (or stands paused mid-way) is pinned to that moment.
  function momentOf(video) {
    if (!video || video.ended || (video.paused && video.currentTime === 0)) return null;
    return video.currentTime;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-timecode-from]")) return;
    var field = form.querySelector("input[name=timecode]");
    var moment = momentOf(document.getElementById(form.dataset.timecodeFrom));
    if (field) field.value = moment === null ? "" : moment.toFixed(2);
  }, true); // capture: runs before htmx serialises the form

  // While typing, say which moment the comment will be pinned to.
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-timecode-from]");
    if (!form) return;
    var hint = form.querySelector(".timecode-hint");
    var moment = momentOf(document.getElementById(form.dataset.timecodeFrom));
    var pinned = form.dataset.pinnedLabel || "pinned at"; // in the page's language
    if (hint) hint.textContent = moment === null ? "" : pinned + " " + label(moment);
  });

  // Clicking a comment's time seeks the player there and plays.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-seek]");
    if (!button) return;
    var video = player();
    if (!video) return;
    event.preventDefault();
    video.currentTime = parseFloat(button.dataset.seek) || 0;
    video.scrollIntoView({ block: "nearest", behavior: "smooth" });
    var playing = video.play();
    if (playing && playing.catch) playing.catch(function () {});
  });

  // ---- the history's selection: refuse what the server would refuse, and say why ----------
  // <form data-selection="message-id">; each submit button carries data-select-min/-max and
  // the messages data-too-few / data-too-many ("{count}" is replaced by the number ticked).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (!form.matches || !form.matches("form[data-selection]") || !button || !button.dataset.selectMin) return;
    var count = document.querySelectorAll('input[name=ids][form="' + form.id + '"]:checked').length;
    var message = "";
    if (count < Number(button.dataset.selectMin)) message = button.dataset.tooFew;
    else if (count > Number(button.dataset.selectMax)) message = button.dataset.tooMany.replace("{count}", count);
    var out = document.getElementById(form.dataset.selection);
    if (out) out.textContent = message;
    if (message) event.preventDefault();
  });

  // A changed selection makes the last refusal stale.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[name=ids][form]")) return;
    var form = document.getElementById(box.getAttribute("form"));
    var out = form && form.dataset.selection && document.getElementById(form.dataset.selection);
    if (out) out.textContent = "";
  });

  // ---- compare: several videos that play, pause and seek as one ---------------------------
  var DRIFT = 0.08; // seconds a follower may lag before it is re-aligned

  function SyncGroup(root) {
    this.root = root;
    this.videos = Array.prototype.slice.call(root.querySelectorAll("video.compare-video"));
    this.toggle = root.querySelector("[data-sync=toggle]");
    this.seek = root.querySelector("[data-sync=seek]");
    this.time = root.querySelector("[data-sync=time]");
    this.loop = root.querySelector("[data-sync=loop]");
    this.playing = false;
    var group = this;
    this.videos.forEach(function (video) {
      video.addEventListener("loadedmetadata", function () { group.updateRange(); });
      video.addEventListener("click", function () { group.playing ? group.pause() : group.play(); });
      video.addEventListener("ended", function () { if (video === group.leader()) group.ended(); });
    });
    if (this.toggle) this.toggle.addEventListener("click", function () { group.playing ? group.pause() : group.play(); });
    if (this.seek) this.seek.addEventListener("input", function () { group.seekTo(parseFloat(group.seek.value)); });
    this.updateRange();
    root.studioSync = this; // for tests and the console
  }

  // The longest video leads: the others follow its clock.
  SyncGroup.prototype.leader = function () {
    return this.videos.reduce(function (best, v) {
      return (v.duration || 0) > (best.duration || 0) ? v : best;
    }, this.videos[0]);
  };

  SyncGroup.prototype.updateRange = function () {
    var lead = this.leader();
    if (this.seek && lead && lead.duration) this.seek.max = lead.duration.toFixed(2);
  };

  SyncGroup.prototype.play = function () {
    var lead = this.leader();
    if (!lead) return;
    if (lead.ended) this.seekTo(0);
    this.align(true);
    this.playing = true;
    if (this.toggle) this.toggle.textContent = this.toggle.dataset.pauseLabel || "❚❚ Pause all";
    this.videos.forEach(function (v) {
      var p = v.play();
      if (p && p.catch) p.catch(function () {});
    });
    this.tick();
  };

  SyncGroup.prototype.pause = function () {
    this.playing = false;
    this.videos.forEach(function (v) { v.pause(); });
    this.align(true);
    if (this.toggle) this.toggle.textContent = this.toggle.dataset.playLabel || "▶ Play all";
  };

  SyncGroup.prototype.seekTo = function (t) {
    this.videos.forEach(function (v) { v.currentTime = Math.min(t, v.duration || t); });
    this.show(t);
  };

  SyncGroup.prototype.ended = function () {
    if (this.loop && this.loop.checked && this.playing) {
      this.seekTo(0);
      this.play();
    } else {
      this.pause();
    }
  };

  // Re-align followers that drifted (or all of them when forced, e.g. on pause).
  SyncGroup.prototype.align = function (force) {
    var lead = this.leader();
    var t = lead.currentTime;
    this.videos.forEach(function (v) {
      if (v === lead || !v.duration || t >= v.duration) return;
      if (force || Math.abs(v.currentTime - t) > DRIFT) v.currentTime = t;
    });
  };

  SyncGroup.prototype.show = function (t) {
    if (this.seek) this.seek.value = t.toFixed(2);
    if (this.time) this.time.textContent = t.toFixed(2) + " s";
  };

  SyncGroup.prototype.tick = function () {
    if (!this.playing) return;
    this.align(false);
    this.show(this.leader().currentTime);
    var group = this;
    window.requestAnimationFrame(function () { group.tick(); });
  };

  function start() {
    document.querySelectorAll("[data-sync-group]").forEach(function (root) {
      if (!root.studioSync) new SyncGroup(root);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:afterSettle", start);
})();
