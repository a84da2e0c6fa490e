// The generation form knows its model (kling-kinds.md §7.1-7.2): the catalogue arrives as
// JSON in the data-catalogue attribute of #model-catalogue (data, not code: the pages carry
// no <script> without src). When the model changes, the page offers only
// that model's durations, modes and aspect ratios, and shows sound, voices and the shot
// editor only where the model takes them. The server checks everything again: this only
// keeps the page from offering what would be refused.
//
// The shot editor posts one multi_prompt_prompt and one multi_prompt_duration per row, in
// page order; adding, removing and moving rows only moves those inputs. Without this file
// the form still works with the rows the server rendered.
(function () {
  "use strict";
  var MAX_SHOTS = 6;

  function catalogue(form) {
    var data = form.querySelector("#model-catalogue");
    if (!data) return null;
    try {
      return JSON.parse(data.getAttribute("data-catalogue"));
    } catch (e) {
      return null;
    }
  }

  function value(form, name) {
    var field = form.elements[name];
    return field ? field.value : "";
  }

  function ticked(form, name) {
    var field = form.elements[name];
    return !!(field && field.checked);
  }

  // A section that carries an error stays visible: an error must never be hidden.
  function show(element, on) {
    if (!element) return;
    element.hidden = !on && !element.querySelector(".has-error, .error:not([data-shot-mismatch])");
  }

  function entryOf(form) {
    var models = catalogue(form);
    return models ? models[value(form, "model_name")] || null : null;
  }

  // ---- the model's own choices (issue 9) ---------------------------------------------------
  function offerDurations(form, entry) {
    var select = form.elements.duration;
    if (!select || select.tagName !== "SELECT" || !entry || !entry.durations.length) return;
    var current = parseInt(select.value, 10);
    var allowed = entry.durations.slice().sort(function (a, b) { return a - b; });
    var chosen = allowed.indexOf(current) >= 0 ? current : (allowed.indexOf(5) >= 0 ? 5 : allowed[0]);
    var unit = select.getAttribute("data-unit") || "s";
    var same = select.options.length === allowed.length &&
      allowed.every(function (d, i) { return select.options[i].value === String(d); });
    if (!same) {
      select.textContent = "";
      allowed.forEach(function (d) {
        var option = document.createElement("option");
        option.value = String(d);
        option.textContent = d + " " + unit;
        select.appendChild(option);
      });
    }
    select.value = String(chosen);
    if (chosen !== current && window.htmx) htmx.trigger(select, "change");
  }

  function limitOptions(select, allowed) {
    if (!select || !allowed || !allowed.length) return;
    Array.prototype.forEach.call(select.options, function (option) {
      option.disabled = option.value !== "" && allowed.indexOf(option.value) < 0;
    });
    if (select.selectedOptions.length && select.selectedOptions[0].disabled) {
      var first = Array.prototype.find.call(select.options, function (o) { return !o.disabled; });
      if (first) select.value = first.value;
    }
  }

  function syncCamera(form, entry) {
    var fieldset = form.querySelector("fieldset.camera");
    if (!fieldset) return;
    show(fieldset, !entry || entry.camera);
    show(fieldset.querySelector(".axes"), value(form, "camera_type") === "simple");
  }

  // ---- sound, voices, shots ----------------------------------------------------------------
  function syncSoundShots(form, entry) {
    var box = form.querySelector("#sound-shots");
    if (!box) return;
    var sound = !!(entry && entry.sound_modes.length);
    var voices = !!(entry && entry.voice_modes.length);
    var shots = !!(entry && entry.multi_shot);
    show(box, sound || voices || shots);
    show(box.querySelector("[data-needs=sound]"), sound);
    show(box.querySelector("[data-needs=voices]"), voices);
    show(box.querySelector("[data-needs=shots]"), shots);
    var hint = box.querySelector("[data-sound-modes]");
    if (hint && entry) hint.textContent = entry.sound_modes.join(", ");
    var several = ticked(form, "multi_shot");
    box.querySelectorAll("[data-shots-only]").forEach(function (el) { show(el, several); });
    var editor = box.querySelector("[data-shot-editor]");
    if (several) show(editor, value(form, "shot_type") !== "intelligence");
    syncSum(form);
  }

  function rows(form) {
    return Array.prototype.slice.call(form.querySelectorAll("[data-shots] > [data-shot]"));
  }

  function syncSum(form) {
    var editor = form.querySelector("[data-shot-editor]");
    if (!editor) return;
    var list = rows(form);
    var total = 0;
    list.forEach(function (row, i) {
      row.querySelector("[data-shot-number]").textContent = String(i + 1);
      total += parseInt(row.querySelector("[name=multi_prompt_duration]").value, 10) || 0;
      row.querySelector("[data-shot-up]").disabled = i === 0;
      row.querySelector("[data-shot-down]").disabled = i === list.length - 1;
    });
    var clip = parseInt(value(form, "duration"), 10) || 0;
    editor.querySelector("[data-shot-total]").textContent = String(total);
    editor.querySelector("[data-clip-duration]").textContent = String(clip);
    editor.querySelector("[data-shot-mismatch]").hidden = total === clip;
    editor.querySelector("[data-shot-sum]").classList.toggle("mismatch", total !== clip);
    editor.querySelector("[data-shot-add]").disabled = list.length >= MAX_SHOTS;
    list.forEach(function (row) {
      row.querySelector("[name=multi_prompt_duration]").max = String(clip || 15);
    });
  }

  function sync(form) {
    var entry = entryOf(form);
    if (entry) {
      offerDurations(form, entry);
      limitOptions(form.elements.mode, entry.modes);
      limitOptions(form.elements.aspect_ratio, entry.aspect_ratios);
    }
    // kling-v2.x and later take no cfg_scale (the server drops it): not offered then.
    show(form.querySelector("#field-cfg_scale"), !entry || entry.cfg);
    syncCamera(form, entry);
    syncSoundShots(form, entry);
    // What is hidden is not sent: a voice typed for one model must not be refused for the
    // next one chosen. Sound is off in a mode without it (kling-v2-6 std).
    form.querySelectorAll("#sound-shots [name], .axes [name], #field-cfg_scale [name]").forEach(
      function (input) { input.disabled = !input.checkVisibility(); }
    );
    var soundBox = form.elements.sound;
    var mode = value(form, "mode") || "std";
    if (soundBox && entry && entry.sound_modes.indexOf(mode) < 0) soundBox.disabled = true;
  }

  function formOf(element) {
    return element && element.closest ? element.closest("#generation-form") : null;
  }

  document.addEventListener("change", function (event) {
    var form = formOf(event.target);
    if (!form) return;
    if (event.target.name === "camera_type" && event.target.value !== "simple") {
      // Axis values mean something only to a simple move; hidden, they would be refused.
      form.querySelectorAll(".axes input").forEach(function (input) { input.value = ""; });
    }
    sync(form);
  });

  document.addEventListener("input", function (event) {
    var form = formOf(event.target);
    if (form && event.target.name === "multi_prompt_duration") syncSum(form);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-shot-add], [data-shot-up], [data-shot-down], [data-shot-remove]");
    var form = formOf(button);
    if (!form) return;
    var list = form.querySelector("[data-shots]");
    var row = button.closest("[data-shot]");
    if (button.hasAttribute("data-shot-add")) {
      if (rows(form).length >= MAX_SHOTS) return;
      var template = form.querySelector("[data-shot-template]");
      list.appendChild(template.content.cloneNode(true));
      var added = rows(form).pop();
      added.querySelector("[name=multi_prompt_prompt]").focus();
    } else if (button.hasAttribute("data-shot-up") && row.previousElementSibling) {
      list.insertBefore(row, row.previousElementSibling);
      button.focus();
    } else if (button.hasAttribute("data-shot-down") && row.nextElementSibling) {
      list.insertBefore(row.nextElementSibling, row);
      button.focus();
    } else if (button.hasAttribute("data-shot-remove")) {
      if (rows(form).length > 1) row.remove();
      else row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    }
    syncSum(form);
  });

  function start(root) {
    var form = root && root.querySelector ? (root.id === "generation-form" ? root : root.querySelector("#generation-form")) : null;
    if (form) sync(form);
  }

  document.addEventListener("htmx:load", function (event) { start(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(document); });
  } else {
    start(document);
  }
})();
