// Live notifications: the page works without this file; with it, it follows the pusher.
//
// Protocol (docs/wire.md): on every (re)connect, fetch the current state from the JSON
// endpoint while buffering live events, then apply the buffer. Every notification is
// keyed by id, so a reconnect never loses or doubles one. User text is only ever set
// with textContent, never parsed as HTML.
(function () {
  "use strict";

  const config = document.getElementById("herald-config");
  if (!config || typeof io === "undefined") return;

  const SOCKET_EVENT = "herald";
  // Pages other than home have no list: a detached one keeps the badge and toasts working.
  const list = document.getElementById("notifications") || document.createElement("ul");
  const countEl = document.getElementById("unread-count");
  const emptyEl = document.getElementById("empty") || document.createElement("p");
  const stateEl = document.getElementById("live-state");
  const sendForm = document.getElementById("send-form");
  const readAllForm = document.getElementById("mark-all-read-form");
  const desktopButton = document.getElementById("desktop-alerts");
  const itemTemplate = document.getElementById("notification-template");
  const toastTemplate = document.getElementById("toast-template");
  const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]").value;

  const shown = new Map(); // notification id -> <li>
  let unreadCount = Number(countEl.dataset.count) || 0;
  let snapshotLastId = 0; // ids at or below it are covered by the last state fetch
  let syncing = false;
  let buffered = [];
  let signedOut = false;

  // ---- rendering ------------------------------------------------------------------

  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  function relativeTime(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return "";
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    const steps = [[60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"]];
    let value = seconds;
    for (const [size, unit] of steps) {
      if (Math.abs(value) < size) return Math.abs(seconds) < 10 ? "just now" : relative.format(value, unit);
      value = Math.round(value / size);
    }
    return relative.format(value, "year");
  }

  function refreshTimes() {
    document.querySelectorAll("#notifications time[datetime]").forEach((el) => {
      el.textContent = relativeTime(el.getAttribute("datetime"));
      el.title = new Date(el.getAttribute("datetime")).toLocaleString();
    });
  }

  function levelClass(level) {
    return "level-" + String(level).replace(/[^a-z]/g, "");
  }

  function fill(root, n) {
    root.classList.add(levelClass(n.level));
    root.querySelector(".level-badge").textContent = n.level;
    root.querySelector(".actor").textContent = n.actor;
    root.querySelector(".verb").textContent = n.verb;
  }

  function render(n) {
    const li = itemTemplate.content.firstElementChild.cloneNode(true);
    li.dataset.id = String(n.id);
    fill(li, n);
    const time = li.querySelector("time");
    time.setAttribute("datetime", n.timestamp);
    time.textContent = relativeTime(n.timestamp);
    const form = li.querySelector("form");
    form.action = config.dataset.readUrl.replace("/0/", "/" + Number(n.id) + "/");
    return li;
  }

  function refreshCount() {
    countEl.textContent = String(unreadCount);
    countEl.dataset.count = String(unreadCount);
    emptyEl.hidden = shown.size > 0;
    document.title = unreadCount > 0 ? "(" + unreadCount + ") Herald" : "Herald";
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
    return li;
  }

  function remove(id) {
    const li = shown.get(id);
    if (!li) return false;
    li.remove();
    shown.delete(id);
    return true;
  }

  function removeUpTo(upToId) {
    for (const id of [...shown.keys()]) if (id <= upToId) remove(id);
    // Every unread notification above upToId arrived after it, live, so it is shown.
    unreadCount = shown.size;
    refreshCount();
  }

  // ---- alerts: a toast always, a desktop notification while the tab is hidden -----

  function toast(n) {
    const el = toastTemplate.content.firstElementChild.cloneNode(true);
    fill(el, n);
    document.getElementById("toasts").append(el);
    el.addEventListener("hidden.bs.toast", () => el.remove());
    if (window.bootstrap) window.bootstrap.Toast.getOrCreateInstance(el, { delay: 6000 }).show();
  }

  function desktopAlert(n) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
    // The Notification API renders title and body as plain text.
    const alert = new Notification(n.actor + " · Herald", { body: n.verb, tag: "herald-" + n.id });
    alert.onclick = () => { window.focus(); alert.close(); };
  }

  if (desktopButton && "Notification" in window && Notification.permission === "default") {
    desktopButton.hidden = false;
    desktopButton.addEventListener("click", async () => {
      await Notification.requestPermission();
      desktopButton.hidden = Notification.permission !== "default";
    });
  }

  // ---- state and events -------------------------------------------------------------

  function applyState(state) {
    const unreadIds = new Set(state.notifications.map((n) => n.id));
    for (const id of [...shown.keys()]) {
      if (id <= state.last_id && !unreadIds.has(id)) remove(id);
    }
    state.notifications.slice().reverse().forEach(insert);
    let newer = 0;
    for (const id of shown.keys()) if (id > state.last_id) newer += 1;
    snapshotLastId = state.last_id;
    unreadCount = state.unread_count + newer;
    refreshCount();
  }

  function handle(envelope) {
    if (!envelope || typeof envelope !== "object" || !envelope.data) return;
    const data = envelope.data;
    if (envelope.type === "notification.created") {
      // At or below the snapshot and absent from it: already read elsewhere.
      if (data.id <= snapshotLastId && !shown.has(data.id)) return;
      const li = insert(data);
      if (li) {
        li.classList.add("arrived");
        unreadCount += 1;
        refreshCount();
        toast(data);
        desktopAlert(data);
      }
    } else if (envelope.type === "notification.read") {
      if (remove(data.id)) { unreadCount = Math.max(0, unreadCount - 1); refreshCount(); }
    } else if (envelope.type === "notifications.read") {
      removeUpTo(data.up_to_id);
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

  function setLiveState(state) {
    stateEl.dataset.state = state;
    stateEl.textContent = state;
  }

  // ---- the socket ---------------------------------------------------------------------

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
    syncing = true;
    buffered = [];
    try {
      applyState(await getJSON(config.dataset.stateUrl));
      setLiveState("live");
    } catch (err) {
      if (signedOut) { socket.disconnect(); setLiveState("signed out"); }
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
    // The server closed us (logout, revocation): find out whether we may come back.
    if (reason === "io server disconnect") retryLater();
    else if (reason !== "io client disconnect") setLiveState("reconnecting");
  });

  // ---- forms: progressive enhancement of the plain HTML forms ---------------------

  function post(form) {
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
      body: new FormData(form),
    });
  }

  if (sendForm) sendForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("send-status");
    sendForm.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
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
        const feedback = sendForm.querySelector('.invalid-feedback[data-field="' + field + '"]');
        if (!feedback) continue;
        feedback.textContent = errors.map((e) => e.message).join(" ");
        if (sendForm.elements[field]) sendForm.elements[field].classList.add("is-invalid");
      }
    } catch (err) {
      status.textContent = "Not sent: the server could not be reached.";
    }
  });

  if (readAllForm) readAllForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const response = await post(readAllForm);
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      if (body.up_to_id) removeUpTo(body.up_to_id);
    } catch (err) {
      readAllForm.submit(); // fall back to the plain form
    }
  });

  list.addEventListener("submit", async (event) => {
    const form = event.target.closest(".mark-read-form");
    if (!form) return;
    event.preventDefault();
    const id = Number(form.closest("[data-id]").dataset.id);
    try {
      const response = await post(form);
      if (!response.ok && response.status !== 404) throw new Error("HTTP " + response.status);
      if (remove(id)) { unreadCount = Math.max(0, unreadCount - 1); refreshCount(); }
    } catch (err) {
      form.submit();
    }
  });

  refreshTimes();
  setInterval(refreshTimes, 30000);
  refreshCount();
})();
