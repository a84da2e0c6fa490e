// Gallery cards play a muted preview of their video on hover, keyboard focus or a first
// tap, and stop when left; the full player with controls is on the generation's page.
// Delegated listeners, so cards swapped in by htmx polls need nothing more.
(function () {
  "use strict";

  function previewOf(target) {
    var thumb = target && target.closest ? target.closest(".gen .thumb") : null;
    return thumb ? thumb.querySelector("video.preview") : null;
  }

  function start(video) {
    video.muted = true; // browsers only autoplay muted video
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
    if (video && event.pointerType === "mouse" && video.paused) start(video);
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
    if (video && video.paused && event.target.matches(":focus-visible")) start(video);
  });
  document.addEventListener("focusout", function (event) {
    var video = previewOf(event.target);
    if (video) stop(video);
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
    start(video);
  });
})();
