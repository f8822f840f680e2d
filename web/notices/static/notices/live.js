// Live notifications: the page works without this file; with it, it follows the pusher.
//
// Protocol (docs/wire.md): on every (re)connect, fetch the current state from the JSON
// endpoint while buffering live events, then apply the buffer. Every notification is
// keyed by id, so a reconnect never loses or doubles one.
(function () {
  "use strict";

  const config = document.getElementById("herald-config");
  if (!config || typeof io === "undefined") return;

  const SOCKET_EVENT = "herald";
  const list = document.getElementById("notifications");
  const countEl = document.getElementById("unread-count");
  const emptyEl = document.getElementById("empty");
  const stateEl = document.getElementById("live-state");
  const sendForm = document.getElementById("send-form");
  const readForm = document.getElementById("mark-all-read-form");

  const shown = new Map(); // notification id -> <li>
  let unreadCount = Number(countEl.textContent) || 0;
  let snapshotLastId = 0; // ids at or below it are covered by the last state fetch
  let syncing = false;
  let buffered = [];
  let signedOut = false;

  list.querySelectorAll("li[data-id]").forEach((li) => {
    shown.set(Number(li.dataset.id), li);
    const time = li.querySelector("time");
    if (time) time.textContent = formatTime(time.getAttribute("datetime"));
  });

  function formatTime(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleString();
  }

  function setLiveState(state) {
    stateEl.dataset.state = state;
    stateEl.textContent = state;
  }

  function refreshCount() {
    countEl.textContent = String(unreadCount);
    emptyEl.hidden = shown.size > 0;
  }

  function span(className, text) {
    const el = document.createElement("span");
    el.className = className;
    el.textContent = text; // user text is never parsed as HTML
    return el;
  }

  function render(n) {
    const li = document.createElement("li");
    li.className = "notification level-" + String(n.level).replace(/[^a-z]/g, "");
    li.dataset.id = String(n.id);
    const time = document.createElement("time");
    time.setAttribute("datetime", n.timestamp);
    time.textContent = formatTime(n.timestamp);
    li.append(span("level", n.level), span("actor", n.actor), span("verb", n.verb), time);
    return li;
  }

  // Returns true when the notification was new to this page.
  function insert(n) {
    if (shown.has(n.id)) return false;
    const li = render(n);
    let before = null;
    for (const child of list.children) {
      if (Number(child.dataset.id) < n.id) { before = child; break; }
    }
    list.insertBefore(li, before);
    shown.set(n.id, li);
    return true;
  }

  function removeUpTo(upToId) {
    for (const [id, li] of shown) {
      if (id <= upToId) { li.remove(); shown.delete(id); }
    }
    // Every unread notification above upToId arrived after it, live, so it is shown.
    unreadCount = shown.size;
    refreshCount();
  }

  function applyState(state) {
    const unreadIds = new Set(state.notifications.map((n) => n.id));
    for (const [id, li] of shown) {
      if (id <= state.last_id && !unreadIds.has(id)) { li.remove(); shown.delete(id); }
    }
    // Oldest first so that each insert lands at its place with little scanning.
    state.notifications.slice().reverse().forEach(insert);
    let newer = 0;
    for (const id of shown.keys()) if (id > state.last_id) newer += 1;
    snapshotLastId = state.last_id;
    unreadCount = state.unread_count + newer;
    refreshCount();
  }

  function handle(envelope) {
    if (!envelope || typeof envelope !== "object") return;
    if (envelope.type === "notification.created") {
      const n = envelope.data;
      // At or below the snapshot and absent from it: already read elsewhere.
      if (n.id <= snapshotLastId && !shown.has(n.id)) return;
      if (insert(n)) { unreadCount += 1; refreshCount(); }
    } else if (envelope.type === "notifications.read") {
      removeUpTo(envelope.data.up_to_id);
    }
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      signedOut = true;
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  const socket = io(config.dataset.pusherUrl || undefined, {
    transports: ["websocket", "polling"],
    // Called before every connection attempt: each gets a fresh short-lived token.
    auth: (cb) => {
      getJSON(config.dataset.tokenUrl)
        .then((data) => cb({ token: data.token }))
        .catch(() => cb({ token: "" }));
    },
  });

  let retryDelay = 1000;
  function retryLater() {
    if (signedOut) { setLiveState("signed out"); return; }
    setLiveState("reconnecting");
    setTimeout(() => { if (!socket.connected) socket.connect(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  socket.on("connect", async () => {
    retryDelay = 1000;
    setLiveState("live");
    syncing = true;
    buffered = [];
    try {
      applyState(await getJSON(config.dataset.stateUrl));
    } catch (err) {
      if (signedOut) socket.disconnect();
    } finally {
      syncing = false;
      const pending = buffered;
      buffered = [];
      pending.forEach(handle);
    }
  });

  socket.on(SOCKET_EVENT, (envelope) => {
    if (syncing) buffered.push(envelope);
    else handle(envelope);
  });

  // A refused handshake is not retried by socket.io itself: retry with a fresh token.
  socket.on("connect_error", () => { if (!socket.active) retryLater(); });

  socket.on("disconnect", (reason) => {
    if (reason === "io server disconnect" || reason === "io client disconnect") retryLater();
    else setLiveState("reconnecting");
  });

  function csrfToken(form) {
    const input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(form) {
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
      body: new FormData(form),
    });
  }

  sendForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("send-status");
    sendForm.querySelectorAll(".error[data-field]").forEach((el) => { el.hidden = true; el.textContent = ""; });
    status.textContent = "Sending…";
    try {
      const response = await post(sendForm);
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        sendForm.elements.message.value = "";
        status.textContent = "Sent.";
        return;
      }
      status.textContent = body.error || "Not sent (HTTP " + response.status + ").";
      for (const [field, errors] of Object.entries(body.errors || {})) {
        const el = sendForm.querySelector('.error[data-field="' + field + '"]');
        if (el) { el.textContent = errors.map((e) => e.message).join(" "); el.hidden = false; }
      }
    } catch (err) {
      status.textContent = "Not sent: the server could not be reached.";
    }
  });

  readForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const response = await post(readForm);
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      if (body.up_to_id) removeUpTo(body.up_to_id);
    } catch (err) {
      readForm.submit(); // fall back to the plain form
    }
  });
})();
