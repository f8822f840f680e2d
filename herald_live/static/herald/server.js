// Herald's notification center, the server: the JSON API's requests, the tabs' pages, and what the user
// does to a notification (docs/wire.md). The catch-up itself is the connection's (connection.js).
(function () {
  "use strict";

  function create(app) {
    const cfg = app.cfg;
    const model = app.model;
    const gettext = app.gettext;
    const named = app.named;

    function csrfToken() {
      if (cfg.csrfCookie) {
        for (const part of document.cookie.split(";")) {
          const [name, ...value] = part.trim().split("=");
          if (name === cfg.csrfCookie) return decodeURIComponent(value.join("="));
        }
      }
      return cfg.csrfToken || "";
    }

    async function getJSON(url) {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        app.connection.endSession();
        throw new Error("signed out");
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }

    async function post(url, { keepalive = false, json = undefined } = {}) {
      const headers = { Accept: "application/json" };
      headers[cfg.csrfHeader || "X-CSRFToken"] = csrfToken();
      const init = { method: "POST", credentials: "same-origin", headers: headers, keepalive };
      if (json !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(json);
      }
      const response = await fetch(url, init);
      if (response.status === 401) {
        app.connection.endSession();
        throw new Error("signed out");
      }
      return response;
    }

    function pageUrl(filter, before, limit) {
      const url = new URL(cfg.notificationsUrl, window.location.href);
      url.searchParams.set("filter", filter);
      if (before) url.searchParams.set("before", String(before));
      url.searchParams.set("limit", String(limit));
      return url.toString();
    }

    // The configured URLs were reversed with id 0 (herald_scripts): the last "/0/" is the id's place.
    function idUrl(template, id) {
      const at = template.lastIndexOf("/0/");
      return template.slice(0, at) + "/" + Number(id) + "/" + template.slice(at + 3);
    }

    async function loadFirst(tab) {
      if (tab.loading) return;
      tab.loading = true;
      app.view.renderTab(tab);
      const generation = tab.generation;
      try {
        const page = await getJSON(pageUrl(tab.filter, null, model.pageSize));
        if (generation === tab.generation) model.resetTab(tab, page);
      } catch (err) {
        app.view.showError(gettext("The notifications could not be loaded."));
      } finally {
        tab.loading = false;
        app.view.renderTab(tab);
      }
    }

    async function loadMore(tab) {
      if (tab.loading || !tab.hasMore) return;
      tab.loading = true;
      app.view.renderTab(tab);
      const generation = tab.generation;
      try {
        const page = await getJSON(pageUrl(tab.filter, tab.cursor, model.pageSize));
        if (generation === tab.generation) model.applyPage(tab, page);
      } catch (err) {
        app.view.showError(gettext("The notifications could not be loaded."));
      } finally {
        tab.loading = false;
        app.view.renderTab(tab);
      }
    }

    async function markRead(id, options) {
      try {
        const response = await post(idUrl(cfg.readUrl, id), options);
        if (response.status === 404) model.deleted(id);
        else if (!response.ok) throw new Error("HTTP " + response.status);
        else model.read(id);
        app.connection.afterChange();
        return true;
      } catch (err) {
        app.view.showError(gettext("The notification could not be marked as read."));
        return false;
      }
    }

    async function markUnread(id) {
      try {
        const response = await post(idUrl(cfg.unreadUrl, id));
        if (response.status === 404) model.deleted(id);
        else if (!response.ok) throw new Error("HTTP " + response.status);
        else {
          const payload = await response.json();
          if (app.isPayload(payload)) model.unreadAgain(payload);
        }
        app.connection.afterChange();
      } catch (err) {
        app.view.showError(gettext("The notification could not be marked as unread."));
      }
    }

    // Mutes what the notification is about (its target), for ever: nothing more about it reaches this user
    // until it is unmuted on the preferences page.
    async function muteTarget(id) {
      const n = model.store.get(id);
      try {
        const response = await post(cfg.mutesUrl, { json: { notification_id: id } });
        if (response.status === 404) model.deleted(id);
        else if (!response.ok) throw new Error("HTTP " + response.status);
        else {
          model.mutedIds.add(id);
          model.refill(model.tabs.unread, id);
          model.refill(model.tabs.all, id);
          const target = n && n.target && typeof n.target.text === "string" ? n.target.text : "";
          app.alerts.say(named(gettext("Muted: no more notifications about %(target)s."), { target: target }));
        }
        app.connection.afterChange();
      } catch (err) {
        app.view.showError(gettext("It could not be muted."));
      }
    }

    async function markAllRead() {
      try {
        const response = await post(cfg.readAllUrl);
        if (!response.ok) throw new Error("HTTP " + response.status);
        const body = await response.json();
        if (app.isId(body.up_to_id)) model.allRead(body.up_to_id);
        app.connection.afterChange();
        app.alerts.say(gettext("All notifications are marked as read."));
      } catch (err) {
        app.view.showError(gettext("The notifications could not be marked as read."));
      }
    }

    return {
      getJSON: getJSON,
      pageUrl: pageUrl,
      loadFirst: loadFirst,
      loadMore: loadMore,
      markRead: markRead,
      markUnread: markUnread,
      muteTarget: muteTarget,
      markAllRead: markAllRead,
    };
  }

  (window.HeraldWidget = window.HeraldWidget || {}).server = { create: create };
})();
