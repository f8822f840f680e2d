// Herald's notification center, the view: the bell, its panel, its tabs and their lists (docs/browser.md).
// An item's markup is items.js's; the toasts, the live region and desktop notifications are alerts.js's.
//
// The page works without JavaScript (the bell is a link to the center page): this makes the link a
// button that opens the panel.
(function () {
  "use strict";

  function create(app) {
    const root = app.root;
    const model = app.model;
    const tabs = model.tabs;
    const gettext = app.gettext;
    const fill = app.items.fill;

    // ---- elements --------------------------------------------------------------------------------

    const panel = document.getElementById("herald-panel");
    const badge = root.querySelector(".herald-badge");
    const tabCount = root.querySelector(".herald-tab-count");
    const stateText = root.querySelector(".herald-state-text");
    const readAllButton = root.querySelector(".herald-read-all");
    const errorEl = root.querySelector(".herald-error");
    const tablist = root.querySelector('[role="tablist"]');
    const toastsEl =
      document.getElementById("herald-toasts") || document.body.appendChild(document.createElement("div"));
    const bell = enhanceBell(document.getElementById("herald-bell"));
    const baseTitle = document.title.replace(/^\(\d+\+?\) /, "");

    // What a tab shows, by the model's tab of the same filter.
    function makeTab(filter) {
      const tabpanel = root.querySelector('.herald-tabpanel[data-herald-filter="' + filter + '"]');
      return {
        button: root.querySelector('[role="tab"][data-herald-filter="' + filter + '"]'),
        panel: tabpanel,
        list: tabpanel.querySelector(".herald-list"),
        empty: tabpanel.querySelector(".herald-empty"),
        more: tabpanel.querySelector(".herald-more"),
        nodes: new Map(), // id -> <li>: the model's tab.ids
      };
    }
    const views = { unread: makeTab("unread"), all: makeTab("all") };
    let currentTab = "unread";

    // ---- rendering -------------------------------------------------------------------------------

    // The model's hooks: its tab's ids and these nodes change together.
    function place(tab, n) {
      const view = views[tab.filter];
      let li = view.nodes.get(n.id);
      if (!li) {
        li = document.createElement("li");
        let before = null;
        for (const child of view.list.children) {
          if (Number(child.dataset.heraldId) < n.id) {
            before = child;
            break;
          }
        }
        view.list.insertBefore(li, before);
        view.nodes.set(n.id, li);
      }
      fill(li, n);
      return li;
    }

    function refill(tab, n) {
      const li = views[tab.filter].nodes.get(n.id);
      if (li) fill(li, n);
    }

    function removeNode(tab, id) {
      const view = views[tab.filter];
      const li = view.nodes.get(id);
      if (!li) return;
      if (li.contains(document.activeElement)) {
        // Keyboard users keep their place: the next item's button, else the previous one's, else the tab.
        const next = li.nextElementSibling || li.previousElementSibling;
        const target = next ? next.querySelector(".herald-toggle") : view.button;
        if (target) setTimeout(() => target.focus(), 0);
      }
      li.remove();
      view.nodes.delete(id);
    }

    function renderTab(tab) {
      const view = views[tab.filter];
      view.empty.hidden = !tab.loaded || tab.loading || tab.ids.size > 0 || tab.hasMore;
      view.more.hidden = !(tab.hasMore || tab.loading);
      view.more.disabled = tab.loading;
      view.more.textContent = tab.loading ? gettext("Loading…") : gettext("Load more");
      view.panel.setAttribute("aria-busy", tab.loading ? "true" : "false");
      // Everything shown was marked read while more wait on the server: fetch them.
      if (tab.loaded && !tab.loading && tab.hasMore && tab.ids.size === 0 && !panel.hidden) {
        if (tab.autoLoaded !== tab.cursor) {
          tab.autoLoaded = tab.cursor; // once per position: a failing server is not asked in a loop
          setTimeout(() => app.server.loadMore(tab), 0);
        }
      }
    }

    function renderCount() {
      const unreadCount = model.count();
      const text = unreadCount > 99 ? "99+" : String(unreadCount);
      badge.textContent = text;
      badge.dataset.heraldCount = String(unreadCount);
      badge.hidden = unreadCount === 0;
      if (tabCount) tabCount.textContent = text;
      bell.setAttribute("aria-label", app.unreadLabel(unreadCount));
      readAllButton.disabled = unreadCount === 0;
      document.title = unreadCount > 0 ? "(" + text + ") " + baseTitle : baseTitle;
    }

    function renderAll() {
      renderCount();
      renderTab(tabs.unread);
      renderTab(tabs.all);
    }

    let errorTimer = null;
    function showError(message) {
      errorEl.textContent = message;
      errorEl.hidden = false;
      clearTimeout(errorTimer);
      errorTimer = setTimeout(() => {
        errorEl.hidden = true;
      }, 8000);
      app.alerts.say(message);
    }

    // "connecting" is the first attempt: the same state as reconnecting, said differently.
    // "retrying" (offline for a while, the socket still tried) looks offline; data-herald-offline says why.
    function showState(state, label, why) {
      root.dataset.heraldState = state === "connecting" ? "reconnecting" : state === "retrying" ? "offline" : state;
      if (why) root.dataset.heraldOffline = why;
      else delete root.dataset.heraldOffline;
      stateText.textContent = label;
    }

    function showSocket(role) {
      root.dataset.heraldSocket = role;
    }

    // ---- the bell and the panel ------------------------------------------------------------------

    // The link (no JavaScript) becomes a button that opens the panel.
    function enhanceBell(link) {
      const button = document.createElement("button");
      button.type = "button";
      button.id = link.id;
      button.className = link.className;
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", panel.id);
      button.setAttribute("aria-haspopup", "dialog");
      button.setAttribute("aria-label", link.getAttribute("aria-label") || "");
      button.append(...link.childNodes);
      link.replaceWith(button);
      return button;
    }

    function placePanel() {
      // Phones: the panel spans the screen just below the bell (herald.css); CSS needs the bell's bottom.
      root.style.setProperty("--herald-top", Math.round(bell.getBoundingClientRect().bottom + 8) + "px");
      panel.classList.remove("herald-panel-start");
      const box = panel.getBoundingClientRect();
      if (box.left < 8) panel.classList.add("herald-panel-start"); // a bell near the left edge opens rightwards
    }

    function openPanel() {
      if (panel.hidden) {
        panel.hidden = false;
        bell.setAttribute("aria-expanded", "true");
        root.classList.add("herald-open");
        placePanel();
        app.alerts.clearToasts();
        app.items.refreshTimes();
        const tab = tabs[currentTab];
        if (!tab.loaded) app.server.loadFirst(tab);
        renderAll();
      }
      views[currentTab].button.focus();
    }

    function closePanel(returnFocus) {
      if (panel.hidden) return;
      panel.hidden = true;
      bell.setAttribute("aria-expanded", "false");
      root.classList.remove("herald-open");
      if (returnFocus) bell.focus();
    }

    function selectTab(filter, focus) {
      currentTab = filter;
      for (const [name, view] of Object.entries(views)) {
        const selected = name === filter;
        view.button.setAttribute("aria-selected", selected ? "true" : "false");
        view.button.tabIndex = selected ? 0 : -1;
        view.panel.hidden = !selected;
      }
      const tab = tabs[filter];
      if (!tab.loaded) app.server.loadFirst(tab);
      if (focus) views[filter].button.focus();
      renderAll();
    }

    bell.addEventListener("click", () => {
      if (panel.hidden) openPanel();
      else closePanel(false);
    });

    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || panel.hidden) return;
      const active = document.activeElement;
      if (active && active !== document.body && !root.contains(active)) return;
      event.preventDefault();
      closePanel(true);
    });

    // A click elsewhere, or focus that leaves the widget, closes the panel.
    document.addEventListener("pointerdown", (event) => {
      if (!panel.hidden && !root.contains(event.target) && !toastsEl.contains(event.target)) closePanel(false);
    });
    root.addEventListener("focusout", (event) => {
      if (event.relatedTarget && !root.contains(event.relatedTarget) && !toastsEl.contains(event.relatedTarget)) {
        closePanel(false);
      }
    });

    tablist.addEventListener("click", (event) => {
      const tab = event.target.closest('[role="tab"]');
      if (tab) selectTab(tab.dataset.heraldFilter, true);
    });
    tablist.addEventListener("keydown", (event) => {
      const buttons = [...tablist.querySelectorAll('[role="tab"]')];
      const index = buttons.indexOf(document.activeElement);
      if (index < 0) return;
      const moves = {
        ArrowRight: index + 1,
        ArrowLeft: index - 1,
        Home: 0,
        End: buttons.length - 1,
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = buttons[(moves[event.key] + buttons.length) % buttons.length];
      selectTab(next.dataset.heraldFilter, true);
    });

    readAllButton.addEventListener("click", () => app.server.markAllRead());

    for (const [name, view] of Object.entries(views)) {
      const tab = tabs[name];
      view.more.addEventListener("click", () => app.server.loadMore(tab));
      view.list.addEventListener("click", (event) => {
        const toggle = event.target.closest(".herald-toggle");
        const item = event.target.closest("[data-herald-id]");
        if (!item) return;
        const id = Number(item.dataset.heraldId);
        if (event.target.closest(".herald-mute")) {
          app.server.muteTarget(id);
          return;
        }
        if (toggle) {
          if (toggle.dataset.heraldAction === "read") app.server.markRead(id);
          else app.server.markUnread(id);
          return;
        }
        const link = event.target.closest("a.herald-target");
        const n = model.store.get(id);
        if (!link || !n || !n.unread) return;
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
          app.server.markRead(id, { keepalive: true }); // opens elsewhere: this page stays
          return;
        }
        // Marked read, then followed; a slow server delays the visit by at most a moment.
        event.preventDefault();
        const href = link.href;
        Promise.race([
          app.server.markRead(id, { keepalive: true }),
          new Promise((resolve) => setTimeout(resolve, 1500)),
        ]).then(() => window.location.assign(href));
      });
      view.list.addEventListener("auxclick", (event) => {
        const link = event.target.closest("a.herald-target");
        const item = event.target.closest("[data-herald-id]");
        if (!link || !item || event.button !== 1) return;
        const n = model.store.get(Number(item.dataset.heraldId));
        if (n && n.unread) app.server.markRead(n.id, { keepalive: true });
      });
    }

    return {
      bell: bell,
      panel: panel,
      badge: badge,
      toastsEl: toastsEl,
      place: place,
      refill: refill,
      removeNode: removeNode,
      renderTab: renderTab,
      renderAll: renderAll,
      showError: showError,
      showState: showState,
      showSocket: showSocket,
      openPanel: openPanel,
    };
  }

  (window.HeraldWidget = window.HeraldWidget || {}).view = { create: create };
})();
