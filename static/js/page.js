// Page-wide behaviour for phones and keyboards, on every page (base.html). The menu is a
// <details> and works without this file; this only adds what menus are expected to do.
(function () {
  "use strict";

  function openMenu() {
    return document.querySelector("details.menu[open]");
  }

  // Escape closes the open menu and gives the focus back to its button.
  document.addEventListener("keydown", function (event) {
    var menu = openMenu();
    if (event.key !== "Escape" || !menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });

  // A tap or click outside the open menu closes it, as it would any menu.
  document.addEventListener("click", function (event) {
    var menu = openMenu();
    if (menu && !menu.contains(event.target)) menu.open = false;
  });

  // A form marked data-focus-error that comes back with errors (swapped in by htmx, or
  // rendered by the server) shows its first error: on a phone the button that sent it is
  // a long scroll below the fields, and the error would sit out of sight. The field in
  // error gets the focus, so typing fixes it at once.
  function showFirstError(form) {
    var error = form.querySelector(".has-error, [role=alert]");
    if (!error) return;
    var field = error.closest(".field") || error;
    var control = field.querySelector("input:not([type=hidden]), textarea, select");
    field.scrollIntoView({ block: "center" });
    if (control) control.focus({ preventScroll: true });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-focus-error]")) showFirstError(form);
  });

  function start() {
    document.querySelectorAll("form[data-focus-error]").forEach(showFirstError);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
