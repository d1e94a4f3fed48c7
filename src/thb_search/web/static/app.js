// Progressive enhancement only: every page works without this file.
// Facet checkboxes and the sort menu apply at once (their buttons are then hidden).
document.documentElement.classList.add("js");
document.addEventListener("change", function (event) {
  var control = event.target;
  if (control.matches && control.matches("[data-autosubmit]") && control.form) {
    control.form.requestSubmit ? control.form.requestSubmit() : control.form.submit();
  }
});

// On a narrow screen the filters start folded unless some are in use.
document.addEventListener("DOMContentLoaded", function () {
  var filters = document.querySelector(".facets > details");
  if (filters && window.matchMedia("(max-width: 50rem)").matches &&
      !document.querySelector(".chips")) {
    filters.open = false;
  }
});
