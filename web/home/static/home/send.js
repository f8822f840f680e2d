// The reference site's send form: recipient suggestions while typing, and a send without
// reloading the page. The form works without this file (type the exact username, post).
// Usernames are only ever set as option values and textContent, never parsed as HTML.
(function () {
  "use strict";

  const form = document.getElementById("send-form");
  if (!form) return;
  const recipient = form.elements.recipient;
  const everyone = form.elements.everyone; // only there for senders who may send to everyone
  const list = document.getElementById(recipient.getAttribute("list"));
  const status = document.getElementById("send-status");
  const suggestUrl = form.dataset.suggestUrl;
  const MAX_QUERY = Number(recipient.getAttribute("maxlength")) || 150;
  const DELAY_MS = 150;

  // ---- suggestions: at most ten usernames per prefix, from the site's JSON endpoint ----

  const cache = new Map(); // prefix -> usernames
  let timer = null;
  let latest = 0; // answers to older requests are dropped

  function show(usernames) {
    list.replaceChildren(...usernames.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    }));
  }

  async function suggest(prefix) {
    const ticket = ++latest;
    if (cache.has(prefix)) return show(cache.get(prefix));
    try {
      const response = await fetch(suggestUrl + "?q=" + encodeURIComponent(prefix), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const usernames = (await response.json()).usernames || [];
      cache.set(prefix, usernames);
      if (ticket === latest) show(usernames);
    } catch (err) {
      // Offline or refused: typing the exact username still works.
    }
  }

  recipient.addEventListener("input", () => {
    clearTimeout(timer);
    const prefix = recipient.value;
    if (!prefix || prefix.length > MAX_QUERY) {
      latest++;
      show([]);
      return;
    }
    timer = setTimeout(() => suggest(prefix), DELAY_MS);
  });

  // ---- everyone: a separate, deliberate choice; it disables "To" so only one is sent ----

  function syncEveryone() {
    if (!everyone) return;
    recipient.disabled = everyone.checked;
    recipient.required = !everyone.checked;
  }
  if (everyone) everyone.addEventListener("change", syncEveryone);
  syncEveryone();

  // ---- sending without a reload; the server's answer decides what is shown -----------

  function clearErrors() {
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
    form.querySelectorAll(".invalid-feedback").forEach((el) => { el.textContent = ""; });
  }

  function showErrors(errors) {
    for (const [field, messages] of Object.entries(errors || {})) {
      const feedback = form.querySelector('.invalid-feedback[data-field="' + field + '"]');
      if (!feedback) continue;
      feedback.textContent = messages.map((e) => e.message).join(" ");
      if (form.elements[field]) form.elements[field].classList.add("is-invalid");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    status.textContent = "Sending…";
    try {
      const body = new FormData(form);
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
        body,
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        form.elements.message.value = "";
        status.textContent = "Sent.";
        return;
      }
      status.textContent = answer.error || "Not sent (HTTP " + response.status + ").";
      showErrors(answer.errors);
    } catch (err) {
      status.textContent = "Not sent: the server could not be reached.";
    }
  });
})();
