// Herald's notification center, its alerts: the one live region, a toast for each new notification while
// the panel is closed, and a desktop notification while the tab is hidden (docs/browser.md).
(function () {
  "use strict";

  const TOAST_MS = 8000;

  function create(app) {
    const cfg = app.cfg;
    const view = app.view;
    const gettext = app.gettext;
    const ngettext = app.ngettext;
    const named = app.named;
    const items = app.items;
    const el = items.el;
    const bell = view.bell;
    const toastsEl = view.toastsEl;
    const MAX_TOASTS = Math.max(1, Number(cfg.maxToasts) || 3);
    const announcer = document.getElementById("herald-announcer");
    const desktopButton = app.root.querySelector(".herald-desktop");

    // ---- the one live region ---------------------------------------------------------------------

    let pendingNew = [];
    let announceTimer = null;

    function say(text) {
      if (!announcer) return;
      // Emptied first, so that the same words twice are announced twice.
      announcer.textContent = "";
      setTimeout(() => {
        announcer.textContent = text;
      }, 60);
    }

    function announceNew(n) {
      pendingNew.push(n);
      // A burst becomes one sentence, not twenty.
      if (announceTimer === null) announceTimer = setTimeout(flushAnnouncements, 800);
    }

    function flushAnnouncements() {
      announceTimer = null;
      const arrived = pendingNew;
      pendingNew = [];
      if (!arrived.length) return;
      const first =
        arrived.length === 1
          ? named(gettext("New notification from %(actor)s: %(verb)s."), {
              actor: arrived[0].actor,
              verb: arrived[0].verb,
            })
          : named(ngettext("%(count)s new notification.", "%(count)s new notifications.", arrived.length), {
              count: arrived.length,
            });
      say(first + " " + app.unreadLabel(app.model.unreadCount) + ".");
    }

    // ---- alerts: a toast always, a desktop notification while the tab is hidden ------------------

    const toasts = []; // newest first: {id, el, timer, remaining, started, hovered}
    let collapsed = 0;
    let moreHovered = false;
    const moreButton = el("button", "herald-toast-more");
    moreButton.type = "button";
    moreButton.hidden = true;
    moreButton.addEventListener("click", () => {
      clearToasts();
      view.openPanel();
    });
    moreButton.addEventListener("pointerenter", () => {
      moreHovered = true;
      pauseAll();
    });
    moreButton.addEventListener("pointerleave", () => {
      moreHovered = false;
      resumeAll();
    });
    toastsEl.append(moreButton);

    // Read from the toasts themselves, not counted from events: a toast removed under the pointer or
    // with focus fires no pointerleave or focusout, and must not leave the others paused for ever.
    function paused() {
      return moreHovered || toasts.some((t) => t.hovered) || toastsEl.contains(document.activeElement);
    }

    function startTimer(t) {
      if (paused()) return;
      t.started = Date.now();
      t.timer = setTimeout(() => dropToast(t.id), t.remaining);
    }

    function pauseAll() {
      toastsEl.dataset.heraldPaused = "true";
      for (const t of toasts) {
        if (t.timer === null) continue;
        clearTimeout(t.timer);
        t.timer = null;
        t.remaining = Math.max(1000, t.remaining - (Date.now() - t.started));
      }
    }

    function resumeAll() {
      if (paused()) return;
      delete toastsEl.dataset.heraldPaused;
      for (const t of toasts) if (t.timer === null) startTimer(t);
    }

    function alertNew(n) {
      announceNew(n);
      desktopAlert(n);
      if (!view.panel.hidden) return; // the panel shows it already
      toast(n);
    }

    function toast(n) {
      const box = el("div", "herald-toast herald-level-" + items.levelClass(n.level));
      box.dataset.heraldId = String(n.id);
      const body = el("div", "herald-toast-body");
      const title = el("p", "herald-toast-title");
      title.append(
        el("span", "herald-actor", String(n.actor)),
        " ",
        el("span", "herald-level", items.LEVELS[n.level] || "")
      );
      const line = el("p", "herald-toast-text");
      line.append(el("span", "herald-verb", n.verb));
      if (n.target && typeof n.target.text === "string") line.append(" ", el("span", "herald-target", n.target.text));
      body.append(title, line);
      const close = el("button", "herald-toast-close");
      close.type = "button";
      close.setAttribute("aria-label", gettext("Dismiss"));
      close.title = gettext("Dismiss");
      close.append(items.icon("close"));
      const t = { id: n.id, el: box, timer: null, remaining: TOAST_MS, started: 0, hovered: false };
      close.addEventListener("click", () => dropToast(t.id));
      box.addEventListener("pointerenter", () => {
        t.hovered = true;
        pauseAll();
      });
      box.addEventListener("pointerleave", () => {
        t.hovered = false;
        resumeAll();
      });
      box.append(body, close);
      // Newest first by id, not by arrival: a burst's notifications come from several chunks and drains, in
      // any order, and the stack must read as the panel does.
      let index = toasts.findIndex((other) => other.id < t.id);
      if (index < 0) index = toasts.length;
      if (index < toasts.length) toasts[index].el.before(box);
      else if (toasts.length) toasts[toasts.length - 1].el.after(box);
      else toastsEl.prepend(box);
      toasts.splice(index, 0, t);
      // Never more than MAX_TOASTS: the oldest ones fold into "+N more" (the new one too, if it is the oldest).
      while (toasts.length > MAX_TOASTS) {
        const oldest = toasts.pop();
        clearTimeout(oldest.timer);
        // Focus in the folded toast stays in the stack (on the newest one's button).
        if (oldest.el.contains(document.activeElement)) toasts[0].el.querySelector(".herald-toast-close").focus();
        oldest.el.remove();
        collapsed += 1;
      }
      if (paused()) pauseAll();
      if (toasts.includes(t)) startTimer(t);
      renderMore();
    }

    function dropToast(id) {
      const index = toasts.findIndex((t) => t.id === id);
      if (index < 0) return;
      const [t] = toasts.splice(index, 1);
      clearTimeout(t.timer);
      if (t.el.contains(document.activeElement)) {
        const next = toasts[index] || toasts[index - 1];
        (next ? next.el.querySelector(".herald-toast-close") : bell).focus();
      }
      t.el.remove();
      if (!toasts.length) collapsed = 0;
      renderMore();
      resumeAll();
    }

    // Those of notifications at or below upToId: all read now.
    function dropToasts(upToId) {
      for (const t of [...toasts]) if (t.id <= upToId) dropToast(t.id);
    }

    function clearToasts() {
      for (const t of [...toasts]) dropToast(t.id);
      collapsed = 0;
      renderMore();
    }

    function renderMore() {
      if (collapsed === 0 && moreButton.contains(document.activeElement)) bell.focus();
      moreButton.hidden = collapsed === 0;
      moreHovered = moreHovered && !moreButton.hidden;
      // The visible words start the accessible name; the rest says what the button does.
      moreButton.replaceChildren(
        named(ngettext("+%(count)s more", "+%(count)s more", collapsed), { count: collapsed }),
        el("span", "herald-sr-only", " " + gettext("new notifications: open the panel"))
      );
    }

    toastsEl.addEventListener("focusin", pauseAll);
    // Focus has moved by the time this runs: paused() sees where it went.
    toastsEl.addEventListener("focusout", () => setTimeout(resumeAll, 0));

    // While toasts show, the page gets their height as room at its end: a control under the stack (the
    // last rows of a long list) can always be scrolled clear of it. A spacer, not a style on the host's body.
    const toastSpacer = document.createElement("div");
    toastSpacer.className = "herald-toast-spacer";
    toastSpacer.setAttribute("aria-hidden", "true");
    function reserveToastSpace() {
      const rect = toastsEl.getBoundingClientRect();
      const room = rect.height > 0 ? Math.ceil(window.innerHeight - rect.top) : 0;
      if (room > 0) {
        toastSpacer.style.height = room + "px";
        if (toastSpacer.parentNode !== document.body || document.body.lastElementChild !== toastSpacer) {
          document.body.append(toastSpacer);
        }
      } else if (toastSpacer.parentNode) {
        toastSpacer.remove();
      }
    }
    if (window.ResizeObserver) new ResizeObserver(reserveToastSpace).observe(toastsEl);
    window.addEventListener("resize", reserveToastSpace);

    function desktopAlert(n) {
      if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
      // The Notification API renders title and body as plain text.
      const alert = new Notification(named(gettext("%(actor)s · notification"), { actor: n.actor }), {
        body: n.verb,
        tag: "herald-" + n.id,
      });
      alert.onclick = () => {
        window.focus();
        alert.close();
      };
    }

    if (desktopButton && "Notification" in window && Notification.permission === "default") {
      desktopButton.hidden = false;
      desktopButton.addEventListener("click", async () => {
        await Notification.requestPermission();
        desktopButton.hidden = Notification.permission !== "default";
      });
    }

    return {
      say: say,
      alertNew: alertNew,
      dropToast: dropToast,
      dropToasts: dropToasts,
      clearToasts: clearToasts,
    };
  }

  (window.HeraldWidget = window.HeraldWidget || {}).alerts = { create: create };
})();
