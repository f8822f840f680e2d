// The widget's model (herald_live/static/herald/model.js) in Node, without a browser: every change is keyed by
// id and idempotent, whatever order the events arrive in, and a catch-up's buffer lands on top of its snapshot.
// Run: node --test tests/herald_live/static/
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");

const Model = require("../../../../herald_live/static/herald/model.js");

// A model whose hooks write down what the view would have been told.
function make(options) {
  const told = { placed: [], refilled: [], removed: [], dropped: [], droppedUpTo: [], alerted: [] };
  const model = Model.create(
    Object.assign(
      {
        hooks: {
          place: (tab, n) => told.placed.push([tab.filter, n.id, n.unread]),
          refill: (tab, n) => told.refilled.push([tab.filter, n.id, n.unread]),
          remove: (tab, id) => told.removed.push([tab.filter, id]),
          dropToast: (id) => told.dropped.push(id),
          dropToasts: (upToId) => told.droppedUpTo.push(upToId),
          alertNew: (n) => told.alerted.push(n.id),
        },
      },
      options
    )
  );
  return { model, told };
}

function note(id, fields) {
  return Object.assign(
    { id: id, actor: "bob", verb: "commented on", level: "info", unread: true, timestamp: "2026-01-01T00:00:00Z" },
    fields
  );
}

function page(ids, { hasMore = false, lastId = ids.length ? Math.max(...ids) : 0, unreadCount = ids.length } = {}) {
  return { notifications: ids.map((id) => note(id)), has_more: hasMore, last_id: lastId, unread_count: unreadCount };
}

const created = (id, fields) => ({ type: "notification.created", data: note(id, fields) });
const read = (id) => ({ type: "notification.read", data: { id: id } });
const unread = (id, fields) => ({ type: "notification.unread", data: note(id, fields) });
const deleted = (id) => ({ type: "notification.deleted", data: { id: id } });
const allRead = (upToId) => ({ type: "notifications.read", data: { up_to_id: upToId } });

// A model that has caught up once: the unread tab is loaded from this page.
function caughtUp(ids, pageOptions, options) {
  const made = make(options);
  made.model.beginSync();
  made.model.applySnapshot(page(ids, pageOptions), null);
  made.model.endSync();
  made.told.placed.length = 0;
  return made;
}

const ids = (tab) => [...tab.ids];

test("a created event twice counts once, is shown once and alerted once", () => {
  const { model, told } = caughtUp([]);
  assert.equal(model.handle(created(5)), true);
  assert.equal(model.handle(created(5)), true);
  assert.equal(model.unreadCount, 1);
  assert.deepEqual(ids(model.tabs.unread), [5]);
  assert.deepEqual(told.placed, [["unread", 5, true]]);
  assert.deepEqual(told.alerted, [5]);
});

test("a notification read before its created event arrives stays read", () => {
  const { model, told } = caughtUp([]);
  model.handle(read(7));
  assert.deepEqual([...model.readEarly], [7]);
  model.handle(created(7));
  assert.equal(model.unreadCount, 0);
  assert.equal(model.store.get(7).unread, false);
  assert.deepEqual(ids(model.tabs.unread), []);
  assert.deepEqual(told.alerted, []);
});

test("after notifications.read, a late created event at or below up_to_id is read, above it unread", () => {
  const { model, told } = caughtUp([]);
  model.handle(allRead(10));
  assert.equal(model.readUpTo, 10);
  assert.deepEqual(told.droppedUpTo, [10]);
  model.handle(created(8));
  model.handle(created(10));
  assert.equal(model.unreadCount, 0);
  assert.equal(model.store.get(8).unread, false);
  assert.equal(model.store.get(10).unread, false);
  model.handle(created(11));
  assert.equal(model.unreadCount, 1);
  assert.deepEqual(ids(model.tabs.unread), [11]);
  assert.deepEqual(told.alerted, [11]);
});

test("notifications.read never lowers the mark an earlier one set", () => {
  const { model } = caughtUp([]);
  model.handle(allRead(10));
  model.handle(allRead(4));
  assert.equal(model.readUpTo, 10);
  model.handle(created(9));
  assert.equal(model.unreadCount, 0);
});

test("notifications.read empties the unread tab up to its id, and the count is what the tab holds above it", () => {
  const { model, told } = caughtUp([9, 7, 5]);
  model.handle(created(12));
  assert.equal(model.unreadCount, 4);
  model.handle(allRead(9));
  assert.deepEqual(ids(model.tabs.unread), [12]);
  assert.equal(model.unreadCount, 1);
  assert.deepEqual(told.removed, [
    ["unread", 9],
    ["unread", 7],
    ["unread", 5],
  ]);
  for (const id of [9, 7, 5]) assert.equal(model.store.get(id).unread, false);
  assert.equal(model.store.get(12).unread, true);
});

test("notifications.read below what an unread tab fetched leaves the count to the server", () => {
  const { model } = caughtUp([20, 19], { hasMore: true, unreadCount: 30 });
  model.handle(allRead(5));
  assert.equal(model.unreadCount, 30);
  assert.equal(model.needsSync, true);
  assert.equal(model.tabs.unread.hasMore, true);
});

test("notifications.read that reaches the tab's oldest fetched one means nothing more waits on the server", () => {
  const { model } = caughtUp([20, 19], { hasMore: true, unreadCount: 30 });
  model.handle(allRead(19));
  assert.deepEqual(ids(model.tabs.unread), [20]);
  assert.equal(model.unreadCount, 1);
  assert.equal(model.tabs.unread.hasMore, false);
  assert.equal(model.needsSync, false);
});

test("a notification read, then unread again, is counted and shown again, once", () => {
  const { model, told } = caughtUp([]);
  model.handle(created(5));
  model.handle(read(5));
  assert.equal(model.unreadCount, 0);
  assert.deepEqual(ids(model.tabs.unread), []);
  assert.deepEqual(told.dropped, [5]);
  model.handle(unread(5, { unread: false })); // the payload's flag does not matter: the event says unread
  assert.equal(model.store.get(5).unread, true);
  assert.deepEqual(told.placed.at(-1), ["unread", 5, true]);
  model.handle(unread(5));
  assert.equal(model.unreadCount, 1);
  assert.deepEqual(ids(model.tabs.unread), [5]);
  assert.equal(model.store.get(5).unread, true);
});

test("unread again clears an early read: its created event then counts", () => {
  const { model } = caughtUp([]);
  model.handle(read(7));
  model.handle(unread(7));
  assert.deepEqual([...model.readEarly], []);
  assert.equal(model.unreadCount, 1);
  model.handle(created(7));
  assert.equal(model.unreadCount, 1);
});

test("unread again beyond what the tab fetched asks for a catch-up instead of guessing", () => {
  const { model } = caughtUp([20, 18], { hasMore: true, unreadCount: 5 });
  model.handle(unread(3));
  assert.equal(model.needsSync, true);
  assert.equal(model.unreadCount, 5);
  assert.deepEqual(ids(model.tabs.unread), [20, 18]);
});

test("a deleted notification leaves the tab and the count, and its late created event is ignored", () => {
  const { model, told } = caughtUp([]);
  model.handle(created(5));
  model.handle(deleted(5));
  assert.equal(model.unreadCount, 0);
  assert.deepEqual(ids(model.tabs.unread), []);
  assert.deepEqual(told.removed, [["unread", 5]]);
  assert.deepEqual(told.dropped, [5]);
  assert.equal(model.store.has(5), false);
  model.handle(created(5));
  assert.equal(model.unreadCount, 0);
  assert.deepEqual(ids(model.tabs.unread), []);
});

test("deleted twice counts down once", () => {
  const { model } = caughtUp([6, 5], { unreadCount: 2 });
  model.handle(deleted(5));
  model.handle(deleted(5));
  assert.equal(model.unreadCount, 1);
  assert.equal(model.needsSync, false);
});

test("read or deleted below what the tab fetched, where it may or may not be, asks for a catch-up", () => {
  const first = caughtUp([20, 18], { hasMore: true });
  first.model.handle(read(5));
  assert.equal(first.model.needsSync, true);
  const second = caughtUp([20, 18], { hasMore: true });
  second.model.handle(deleted(5));
  assert.equal(second.model.needsSync, true);
  const covered = caughtUp([20, 18], { hasMore: true });
  covered.model.handle(read(19)); // between fetched ones: known not to be unread
  covered.model.handle(deleted(19));
  assert.equal(covered.model.needsSync, false);
});

test("a created event at or below the tab's fetch and absent from it is read or gone already", () => {
  const { model, told } = caughtUp([9], { lastId: 12, unreadCount: 1 });
  model.handle(created(11));
  assert.equal(model.unreadCount, 1);
  assert.deepEqual(ids(model.tabs.unread), [9]);
  assert.deepEqual(told.alerted, []);
});

test("events buffered during a catch-up are applied after its snapshot, each id once", () => {
  const { model, told } = make();
  model.beginSync();
  assert.equal(model.receive(created(5)), false);
  assert.equal(model.receive(created(6)), false);
  assert.equal(model.receive(read(4)), false);
  assert.equal(model.unreadCount, 0);
  assert.deepEqual(told.placed, []);
  // The snapshot was taken after 5 was created (it lists it), before 6, and before 4 was read.
  model.applySnapshot(page([5, 4], { unreadCount: 2 }), null);
  assert.equal(model.unreadCount, 2);
  const pending = model.endSync();
  assert.equal(model.syncing, false);
  assert.equal(pending.length, 3);
  assert.deepEqual(model.buffered, []);
  pending.forEach((envelope) => model.handle(envelope));
  assert.deepEqual(ids(model.tabs.unread).sort(), [5, 6]);
  assert.equal(model.unreadCount, 2);
  assert.deepEqual(told.alerted, [6]);
  assert.equal(model.receive(created(7)), true); // after the catch-up: handled at once
  assert.equal(model.unreadCount, 3);
});

test("a catch-up makes a tab exactly the server's page: items reused by id, gone ones removed", () => {
  const { model, told } = caughtUp([]);
  model.handle(created(30));
  told.placed.length = 0;
  model.beginSync();
  model.applySnapshot(page([25, 20], { lastId: 31, unreadCount: 2 }), null);
  model.endSync();
  const tab = model.tabs.unread;
  assert.deepEqual(ids(tab), [25, 20]);
  assert.deepEqual(told.removed, [["unread", 30]]);
  assert.equal(model.unreadCount, 2);
  assert.equal(tab.cursor, 20);
  assert.equal(tab.lastId, 31);
  assert.equal(tab.loaded, true);
  const generation = tab.generation;
  model.resetTab(tab, page([25, 20]));
  assert.deepEqual(ids(tab), [25, 20]);
  assert.equal(tab.generation, generation + 1);
});

test("a catch-up forgets early reads it covers and the deletions it saw", () => {
  const { model } = caughtUp([]);
  model.handle(read(7));
  model.handle(read(50));
  model.handle(deleted(3));
  model.beginSync();
  model.applySnapshot(page([], { lastId: 10, unreadCount: 0 }), null);
  model.endSync();
  assert.deepEqual([...model.readEarly], [50]);
  assert.deepEqual([...model.deletedIds], []);
});

test("a catch-up with the all tab loaded resets it too", () => {
  const { model } = caughtUp([]);
  model.beginSync();
  model.applySnapshot(page([8], { unreadCount: 1 }), page([9, 8], { unreadCount: 1 }));
  model.endSync();
  assert.deepEqual(ids(model.tabs.all), [9, 8]);
  assert.equal(model.tabs.all.loaded, true);
  model.handle(created(10, { unread: false })); // read already: in all, not in unread
  assert.deepEqual(ids(model.tabs.all), [9, 8, 10]);
  assert.deepEqual(ids(model.tabs.unread), [8]);
  assert.equal(model.unreadCount, 1);
});

test("a read one stays in the all tab, refilled as read", () => {
  const { model, told } = caughtUp([]);
  model.beginSync();
  model.applySnapshot(page([8], { unreadCount: 1 }), page([8]));
  model.endSync();
  model.handle(read(8));
  assert.deepEqual(ids(model.tabs.all), [8]);
  assert.deepEqual(told.refilled, [["all", 8, false]]);
});

test("a later page adds only what is neither shown nor deleted, and moves the cursor", () => {
  const { model } = caughtUp([20, 19], { hasMore: true });
  model.handle(deleted(15));
  const tab = model.tabs.unread;
  model.applyPage(tab, page([19, 15, 14], { hasMore: false }));
  assert.deepEqual(ids(tab), [20, 19, 14]);
  assert.equal(tab.cursor, 14);
  assert.equal(tab.hasMore, false);
});

test("the unread count as shown is never negative, and counts on from zero", () => {
  const { model } = caughtUp([3], { unreadCount: 0 }); // the count was taken before 3 was created
  model.handle(read(3));
  assert.equal(model.count(), 0);
  assert.equal(model.unreadCount, 0);
  model.handle(created(4));
  assert.equal(model.count(), 1);
});

test("only well-formed envelopes of known types change anything", () => {
  const { model, told } = caughtUp([]);
  for (const envelope of [null, "x", {}, { type: "notification.created" }, { type: "other", data: {} }]) {
    assert.equal(model.handle(envelope), false);
  }
  model.handle({ type: "notification.created", data: { id: "5", verb: "x", unread: true } });
  model.handle({ type: "notification.created", data: { id: 0, verb: "x", unread: true } });
  model.handle({ type: "notification.created", data: { id: 5, unread: true } });
  model.handle({ type: "notification.read", data: { id: -1 } });
  model.handle({ type: "notifications.read", data: { up_to_id: 1.5 } });
  assert.equal(model.unreadCount, 0);
  assert.equal(model.readUpTo, 0);
  assert.deepEqual(told.placed, []);
  assert.deepEqual(told.dropped, []);
  assert.deepEqual([...model.readEarly], []);
});

test("notifications.changed asks for a catch-up", () => {
  const { model } = caughtUp([]);
  assert.equal(model.handle({ type: "notifications.changed", data: {} }), true);
  assert.equal(model.needsSync, true);
});

test("a tab covers an id once loaded, and then only if it fetched that far back or the id is newer", () => {
  const { model } = make();
  assert.equal(model.covers(model.tabs.unread, 5), false);
  const { model: full } = caughtUp([9, 7]);
  assert.equal(full.covers(full.tabs.unread, 1), true);
  const { model: partial } = caughtUp([9, 7], { hasMore: true, lastId: 9 });
  assert.equal(partial.covers(partial.tabs.unread, 7), true);
  assert.equal(partial.covers(partial.tabs.unread, 10), true);
  assert.equal(partial.covers(partial.tabs.unread, 6), false);
});

test("a catch-up asks for what each tab shows, at least a page and at most the API's cap", () => {
  const { model } = caughtUp([], {}, { pageSize: 5 });
  const tab = model.tabs.unread;
  assert.equal(model.limitFor(tab), 5);
  for (let id = 1; id <= 7; id++) model.handle(created(id));
  assert.equal(model.limitFor(tab), 7);
  for (let id = 8; id <= 150; id++) model.handle(created(id));
  assert.equal(model.limitFor(tab), Model.MAX_LIMIT);
  assert.equal(Model.create({ pageSize: "x" }).pageSize, 20);
});

test("ids and payloads are checked as the wire defines them", () => {
  assert.equal(Model.isId(1), true);
  for (const value of [0, -1, 1.5, "1", null, 2 ** 53]) assert.equal(Model.isId(value), false);
  assert.ok(Model.isPayload({ id: 1, verb: "x" }));
  assert.ok(!Model.isPayload({ id: 1 }));
  assert.ok(!Model.isPayload(null));
});
