// The preferences page (herald/preferences.html), which works without this file: turning a type off in
// the site disables its push and email boxes at once, as the server renders them after a save (push and
// email only carry notifications the site channel stored). A disabled box and its "shown" marker are not
// sent, so the server keeps their values for when the site channel is back on.
(function () {
  "use strict";

  const IN_APP = "in_app";

  function sync(row) {
    const site = row.querySelector('input.herald-preference[data-herald-channel="' + IN_APP + '"]');
    if (!site) return;
    for (const input of row.querySelectorAll("input[data-herald-channel]")) {
      if (input.dataset.heraldChannel !== IN_APP) input.disabled = !site.checked;
    }
  }

  for (const row of document.querySelectorAll(".herald-preferences-table tr[data-herald-type]")) {
    row.addEventListener("change", (event) => {
      if (event.target.dataset && event.target.dataset.heraldChannel === IN_APP) sync(row);
    });
  }
})();
