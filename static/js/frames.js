// A chosen frame shows a preview next to its field (issue 9). The picked file is shown
// from a blob: URL made in the page (nothing is uploaded for it); a frame kept from a POST
// that failed elsewhere is shown from the server, and choosing another file replaces it.
// Frames given by URL are not previewed: the page's CSP loads images from this site only.
(function () {
  "use strict";

  function show(field, src) {
    var img = field.querySelector("[data-frame-preview]");
    if (!img) return;
    if (img.src && img.src.indexOf("blob:") === 0) URL.revokeObjectURL(img.src);
    if (src) {
      img.src = src;
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
    }
  }

  function forgetKept(field) {
    var kept = field.querySelector("[data-kept]");
    if (kept) kept.remove();  // its hidden token goes with it: the next POST has no kept frame
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-frame-input]")) return;
    var field = input.closest("[data-frame]");
    var file = input.files && input.files[0];
    if (file) forgetKept(field);
    show(field, file ? URL.createObjectURL(file) : "");
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-kept-clear]");
    if (!button) return;
    var field = button.closest("[data-frame]");
    forgetKept(field);
    show(field, "");
    field.querySelector("[data-frame-input]").focus();
  });
})();
