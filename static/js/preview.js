// Gallery cards play a muted preview of their video on hover, keyboard focus or a first
// tap, and stop when left; the full player with controls is on the generation's page.
// Delegated listeners, so cards swapped in by htmx polls need nothing more.
(function () {
  "use strict";

  function previewOf(target) {
    var thumb = target && target.closest ? target.closest(".gen .thumb") : null;
    return thumb ? thumb.querySelector("video.preview") : null;
  }

  // `by` is what started it ("mouse", "focus" or "touch"): only that ends it. A tap moves
  // the focus about (Chromium blurs the link after it), which must not stop a tapped preview.
  function start(video, by) {
    video.muted = true; // browsers only autoplay muted video
    video.setAttribute("data-started-by", by);
    var playing = video.play();
    video.closest(".thumb").classList.add("playing");
    if (playing && playing.catch) playing.catch(function () {}); // left before it started
  }

  function stop(video) {
    video.pause();
    video.closest(".thumb").classList.remove("playing");
  }

  document.addEventListener("pointerover", function (event) {
    var video = previewOf(event.target);
    if (video && event.pointerType === "mouse" && video.paused) start(video, "mouse");
  });
  document.addEventListener("pointerout", function (event) {
    var video = previewOf(event.target);
    if (!video || event.pointerType !== "mouse") return;
    if (event.relatedTarget && video.closest(".thumb").contains(event.relatedTarget)) return;
    stop(video);
  });
  // Keyboard focus only: a tap focuses the link too, and must stay the tap's to handle.
  document.addEventListener("focusin", function (event) {
    var video = previewOf(event.target);
    if (video && video.paused && event.target.matches(":focus-visible")) start(video, "focus");
  });
  document.addEventListener("focusout", function (event) {
    var video = previewOf(event.target);
    if (video && video.getAttribute("data-started-by") === "focus") stop(video);
  });

  // On a touch screen there is no hover: the first tap plays the preview, a second tap
  // on the playing preview opens the generation (the card's link).
  var lastPointer = "mouse";
  document.addEventListener("pointerdown", function (event) {
    lastPointer = event.pointerType;
  });
  document.addEventListener("click", function (event) {
    var video = previewOf(event.target);
    if (!video || lastPointer === "mouse" || !video.paused) return;
    event.preventDefault();
    document.querySelectorAll(".gen .thumb.playing video.preview").forEach(stop);
    start(video, "touch");
  });

  // A poll may send a finished card again unchanged (it looks back a little, so a late
  // commit is never missed): keep the card on the page, so a playing preview (and the
  // focus) stays. A pending card is always swapped: its elapsed time moves on.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    var incoming = event.detail.fragment && event.detail.fragment.firstElementChild;
    if (!target || !incoming || !target.matches("article.gen") || !incoming.matches("article.gen")) return;
    var same = incoming.getAttribute("data-version") === target.getAttribute("data-version");
    var finished = ["succeeded", "failed", "cancelled"].indexOf(target.getAttribute("data-status")) >= 0;
    if (same && finished) event.detail.shouldSwap = false;
  });
})();
