// Herald's notification center, its model: what this tab knows of the user's notifications, and how each
// event changes that (docs/wire.md). herald.js wires it to the view and the connection.
//
// Every notification is keyed by id and every change is idempotent, so a reconnect never loses or doubles one.
// No DOM, no timers, no network, so it runs in Node too (tests/herald_live/static/): what the page must change
// is told through the hooks given to create() (an item placed, refilled or removed, a toast dropped, a new
// one to alert), and handle() says whether the rest (the count, the tabs) is to be rendered again.
(function () {
  "use strict";

  const MAX_LIMIT = 100; // the JSON API's cap

  function noop() {}

  function isId(value) {
    return Number.isSafeInteger(value) && value > 0;
  }

  function isPayload(n) {
    return n && typeof n === "object" && isId(n.id) && typeof n.verb === "string";
  }

  function makeTab(filter) {
    return {
      filter: filter,
      ids: new Set(), // what the tab shows: the view has an item for each
      loaded: false,
      loading: false,
      hasMore: false,
      cursor: null, // the oldest id fetched: the tab knows every one of its notifications from here up
      lastId: 0, // the newest id the server had at the tab's last fetch: newer ones come live
      generation: 0, // bumped by every reset: a "load more" answer from before it is dropped
      autoLoaded: undefined,
    };
  }

  // options: {pageSize, hooks: {place(tab, n), refill(tab, n), remove(tab, id), dropToast(id),
  // dropToasts(upToId), alertNew(n)}}; a hook left out does nothing.
  function create(options) {
    options = options || {};
    const hooks = Object.assign(
      { place: noop, refill: noop, remove: noop, dropToast: noop, dropToasts: noop, alertNew: noop },
      options.hooks
    );
    const store = new Map(); // id -> the latest payload seen
    const readEarly = new Set(); // read before their "created" arrived (events travel by different tasks)
    const deletedIds = new Set();
    const tabs = { unread: makeTab("unread"), all: makeTab("all") };

    const model = {
      pageSize: Math.max(1, Number(options.pageSize) || 20),
      store: store,
      readEarly: readEarly,
      deletedIds: deletedIds,
      mutedIds: new Set(), // muted from this page: their item says so
      tabs: tabs,
      unreadCount: 0,
      readUpTo: 0, // the highest "notifications.read" seen: a late "created" at or below it is read
      syncing: false,
      syncAgain: false,
      needsSync: false,
      buffered: [],
    };

    function place(tab, n) {
      tab.ids.add(n.id);
      hooks.place(tab, n);
    }

    function refill(tab, id) {
      const n = store.get(id);
      if (tab.ids.has(id) && n) hooks.refill(tab, n);
    }

    function removeNode(tab, id) {
      if (!tab.ids.has(id)) return;
      tab.ids.delete(id);
      hooks.remove(tab, id);
    }

    // Whether a tab knows for sure if it holds this id: it fetched that far back, or the id is newer
    // than its fetch (those come live).
    function covers(tab, id) {
      return tab.loaded && (!tab.hasMore || tab.cursor === null || id >= tab.cursor || id > tab.lastId);
    }

    function created(n, live) {
      if (deletedIds.has(n.id)) return;
      if (n.unread && (readEarly.has(n.id) || n.id <= model.readUpTo)) n = Object.assign({}, n, { unread: false });
      store.set(n.id, n);
      let fresh = false;
      const unread = tabs.unread;
      // At or below the tab's fetch and absent from it: read (or gone) already.
      if (n.unread && !unread.ids.has(n.id) && n.id > unread.lastId) {
        place(unread, n);
        model.unreadCount += 1;
        fresh = true;
      }
      const all = tabs.all;
      if (all.loaded && !all.ids.has(n.id) && n.id > all.lastId) place(all, n);
      if (fresh && live) hooks.alertNew(n);
    }

    function read(id) {
      const known = store.get(id);
      if (known) store.set(id, Object.assign({}, known, { unread: false }));
      const unread = tabs.unread;
      if (unread.ids.has(id)) {
        removeNode(unread, id);
        model.unreadCount -= 1;
      } else if (id > unread.lastId) {
        readEarly.add(id);
      } else if (!covers(unread, id)) {
        model.needsSync = true; // an unread one beyond what was fetched, or not: only the server knows
      }
      refill(tabs.all, id);
      hooks.dropToast(id);
    }

    function unreadAgain(n) {
      n = Object.assign({}, n, { unread: true });
      store.set(n.id, n);
      readEarly.delete(n.id);
      const unread = tabs.unread;
      if (unread.ids.has(n.id)) {
        place(unread, n);
      } else if (covers(unread, n.id)) {
        place(unread, n);
        model.unreadCount += 1;
      } else {
        model.needsSync = true;
      }
      const all = tabs.all;
      if (all.ids.has(n.id) || covers(all, n.id)) place(all, n);
    }

    function deleted(id) {
      store.delete(id);
      deletedIds.add(id);
      const unread = tabs.unread;
      if (unread.ids.has(id)) {
        removeNode(unread, id);
        model.unreadCount -= 1;
      } else if (!covers(unread, id)) {
        model.needsSync = true;
      }
      if (tabs.all.ids.has(id)) removeNode(tabs.all, id);
      hooks.dropToast(id);
    }

    function allRead(upToId) {
      model.readUpTo = Math.max(model.readUpTo, upToId);
      for (const [id, n] of store) if (id <= upToId && n.unread) store.set(id, Object.assign({}, n, { unread: false }));
      const unread = tabs.unread;
      let removed = 0;
      for (const id of [...unread.ids]) {
        if (id <= upToId) {
          removeNode(unread, id);
          removed += 1;
        }
      }
      if (covers(unread, upToId + 1)) {
        // Every unread one above upToId is in the tab (fetched, or arrived live), and none below is left.
        model.unreadCount = unread.ids.size;
        if (unread.cursor === null || unread.cursor <= upToId + 1) unread.hasMore = false;
      } else {
        model.unreadCount -= removed;
        model.needsSync = true;
      }
      for (const id of tabs.all.ids) if (id <= upToId) refill(tabs.all, id);
      hooks.dropToasts(upToId);
    }

    // One envelope of the wire (docs/wire.md); true when it changed something to render.
    function handle(envelope) {
      if (!envelope || typeof envelope !== "object" || !envelope.data || typeof envelope.data !== "object") {
        return false;
      }
      const data = envelope.data;
      switch (envelope.type) {
        case "notification.created":
          if (isPayload(data)) created(data, true);
          break;
        case "notification.read":
          if (isId(data.id)) read(data.id);
          break;
        case "notification.unread":
          if (isPayload(data)) unreadAgain(data);
          break;
        case "notification.deleted":
          if (isId(data.id)) deleted(data.id);
          break;
        case "notifications.read":
          if (isId(data.up_to_id)) allRead(data.up_to_id);
          break;
        case "notifications.changed":
          model.needsSync = true;
          break;
        default:
          return false;
      }
      return true;
    }

    // An envelope from the socket, or relayed by the leader: buffered while a catch-up runs (false then).
    function receive(envelope) {
      if (model.syncing) {
        model.buffered.push(envelope);
        return false;
      }
      return handle(envelope);
    }

    // A tab becomes exactly what the server sent: items are reused by id, never doubled.
    function resetTab(tab, page) {
      tab.generation += 1;
      const keep = new Set(page.notifications.map((n) => n.id));
      for (const id of [...tab.ids]) if (!keep.has(id)) removeNode(tab, id);
      for (const n of page.notifications) {
        store.set(n.id, n);
        place(tab, n);
      }
      tab.hasMore = Boolean(page.has_more);
      tab.cursor = page.notifications.length ? page.notifications[page.notifications.length - 1].id : null;
      tab.lastId = Number(page.last_id) || 0;
      tab.loaded = true;
    }

    function applyPage(tab, page) {
      for (const n of page.notifications) {
        if (deletedIds.has(n.id) || tab.ids.has(n.id)) continue;
        store.set(n.id, n);
        place(tab, n);
      }
      tab.hasMore = Boolean(page.has_more);
      if (page.notifications.length) tab.cursor = page.notifications[page.notifications.length - 1].id;
    }

    function limitFor(tab) {
      return Math.min(MAX_LIMIT, Math.max(model.pageSize, tab.ids.size));
    }

    // The catch-up (the connection fetches the pages): live events wait in a buffer from beginSync() to
    // endSync(), which hands them over to be handled on top of the state the pages set.
    function beginSync() {
      model.syncing = true;
      model.buffered = [];
    }

    function applySnapshot(unreadPage, allPage) {
      resetTab(tabs.unread, unreadPage);
      if (allPage) resetTab(tabs.all, allPage);
      model.unreadCount = unreadPage.unread_count;
      for (const id of [...readEarly]) if (id <= tabs.unread.lastId) readEarly.delete(id);
      deletedIds.clear();
    }

    function endSync() {
      model.syncing = false;
      const pending = model.buffered;
      model.buffered = [];
      return pending;
    }

    // The count as the badge shows it, and as it is counted on from: never below zero.
    function count() {
      model.unreadCount = Math.max(0, model.unreadCount);
      return model.unreadCount;
    }

    return Object.assign(model, {
      covers: covers,
      created: created,
      read: read,
      unreadAgain: unreadAgain,
      deleted: deleted,
      allRead: allRead,
      handle: handle,
      receive: receive,
      resetTab: resetTab,
      applyPage: applyPage,
      refill: refill,
      limitFor: limitFor,
      beginSync: beginSync,
      applySnapshot: applySnapshot,
      endSync: endSync,
      count: count,
    });
  }

  const api = { create: create, isId: isId, isPayload: isPayload, MAX_LIMIT: MAX_LIMIT };
  // In a page, the widget's namespace, even where the page has a global "module" of its own; in Node, the tests'.
  if (typeof window !== "undefined") (window.HeraldWidget = window.HeraldWidget || {}).model = api;
  else if (typeof module === "object" && module.exports) module.exports = api;
})();
