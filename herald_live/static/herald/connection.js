// Herald's notification center, the connection: the socket to the pusher, shared by the tabs of one browser
// (docs/browser.md), and the catch-up on every (re)connect (docs/wire.md): fetch the state from the JSON
// API while buffering live events, then apply the buffer.
(function () {
  "use strict";

  const SOCKET_EVENT = "herald";

  function create(app) {
    const cfg = app.cfg;
    const model = app.model;
    const tabs = model.tabs;
    const gettext = app.gettext;
    let everLive = false;
    let signedOut = false;

    // ---- the catch-up ------------------------------------------------------------------------------

    // What the loaded tabs show now, while live events wait in a buffer. Calls during a catch-up share
    // it, and make it fetch once more when they may know something newer.
    let syncRun = null;

    function sync() {
      if (syncRun) {
        model.syncAgain = true;
        return syncRun;
      }
      syncRun = runSync();
      return syncRun;
    }

    async function runSync() {
      const server = app.server;
      let ok = true;
      for (;;) {
        model.beginSync();
        try {
          do {
            model.syncAgain = false;
            model.needsSync = false;
            const withAll = tabs.all.loaded;
            const [unreadPage, allPage] = await Promise.all([
              server.getJSON(server.pageUrl("unread", null, model.limitFor(tabs.unread))),
              withAll ? server.getJSON(server.pageUrl("all", null, model.limitFor(tabs.all))) : null,
            ]);
            model.applySnapshot(unreadPage, allPage);
          } while (model.syncAgain);
        } catch (err) {
          ok = false;
        }
        const pending = model.endSync();
        pending.forEach(handle);
        app.view.renderAll();
        if (!ok || !(model.needsSync || model.syncAgain)) break;
      }
      syncRun = null;
      return ok;
    }

    function handle(envelope) {
      if (model.handle(envelope)) app.view.renderAll();
    }

    function afterChange() {
      // An answer that lands during a catch-up may predate it: fetch once more.
      if (model.syncing) model.syncAgain = true;
      app.view.renderAll();
      if (model.needsSync) sync();
    }

    // ---- connection state --------------------------------------------------------------------------

    const STATES = {
      live: gettext("Live"),
      reconnecting: gettext("Reconnecting…"),
      connecting: gettext("Connecting…"),
      retrying: gettext("Offline, retrying…"),
      offline: gettext("Offline"),
      "signed-out": gettext("Signed out"),
    };
    let state = "connecting";

    function setState(next) {
      // Offline stays offline until the socket is live again: each retry is no news.
      if (state === "retrying" && (next === "connecting" || next === "reconnecting")) next = "retrying";
      state = next;
      const why = next === "retrying" ? offline.reason() : "";
      const label = why ? app.named(gettext("Offline, retrying: %(why)s"), { why: offline.words() }) : STATES[next];
      app.view.showState(next, label, why);
      if (leading) announce();
      if (next === "live") offline.up();
      else if (next === "connecting" || next === "reconnecting") offline.down();
      else if (next === "retrying") offline.poll();
    }

    // A socket that does not come up (offline.js): after a while it says so, and why; it polls meanwhile.
    const offline = window.HeraldWidget.offline.create({
      pusherUrl: cfg.pusherUrl,
      gettext: gettext,
      giveUp: () => (state === "connecting" || state === "reconnecting") && setState("retrying"),
      poll: () => (state === "live" || signedOut ? null : sync()),
      changed: () => (state === "retrying" ? setState("retrying") : leading && announce()),
    });

    function endSession() {
      if (signedOut) return;
      signedOut = true;
      setState("signed-out"); // a leader tells the other tabs of its group first
      if (socket) socket.disconnect();
      leaveGroup();
      app.view.showError(gettext("Your session has ended. Log in again to see your notifications."));
    }

    // ---- one connection per browser (docs/browser.md) ----------------------------------------------
    //
    // The tabs of one browser share a session (its cookie), so one socket receives what each of them
    // needs. The tabs of one session and user form a group (the config's opaque tabGroup): the tab that
    // holds the Web Lock "herald-leader:<group>" (the leader) opens the socket, and relays its connection
    // and every envelope over the BroadcastChannel "herald:<group>"; the others (followers) open none.
    // When the leader goes, the browser hands its lock to another tab, which connects with a fresh token;
    // every tab catches up on each new connection, as on any reconnect, so nothing is lost, and every
    // change is idempotent by id, so nothing is doubled. Without Web Locks or BroadcastChannel (or
    // without a group), each tab has a socket of its own, as before: role "own".

    const SHARED =
      Boolean(cfg.tabGroup) &&
      typeof BroadcastChannel === "function" &&
      Boolean(navigator.locks) &&
      typeof navigator.locks.request === "function";
    const TAB_ID = Math.random().toString(36).slice(2) + Date.now().toString(36);
    let role = "own"; // "own", "leader" or "follower": data-herald-socket on #herald-root
    let leading = false;
    let channel = null;
    let lockRequest = null; // aborts the wait for the lock
    let resign = null; // releases the lock
    let links = 0;
    let socketLink = null; // the leader's: names its socket's current connection
    let leaderLink = null; // a follower's: the leader's connection, as last heard (null: not connected)
    let leaderState = "connecting";
    let caughtUp = null; // a follower's: the connection it last caught up on
    let catchingUp = null;

    function setRole(next) {
      role = next;
      app.view.showSocket(next);
    }

    function mayConnect() {
      return !signedOut && (role === "own" || leading);
    }

    // What the leader tells the group: its state, and which connection is up (each one means a catch-up).
    function announce() {
      if (!channel) return;
      channel.postMessage({
        kind: "state",
        state: state,
        link: socket && socket.connected ? socketLink : null,
        why: offline.reason(),
      });
    }

    function joinGroup() {
      setRole("follower");
      if (!channel) {
        channel = new BroadcastChannel("herald:" + cfg.tabGroup);
        channel.onmessage = onGroupMessage;
      }
      const request = new AbortController();
      lockRequest = request;
      navigator.locks
        .request("herald-leader:" + cfg.tabGroup, { signal: request.signal }, () => {
          if (lockRequest === request) lockRequest = null;
          if (signedOut || !channel) return undefined; // released at once
          // Held until the page goes (the browser releases it then) or resign() is called.
          return new Promise((resolve) => {
            resign = resolve;
            lead();
          });
        })
        .catch(() => {
          // Aborted: the session ended, or the page left. Refused otherwise (Web Locks not allowed here):
          // this tab keeps a socket of its own rather than waiting for a leader that cannot come.
          if (!request.signal.aborted && !signedOut) {
            setRole("own");
            openSocket();
          }
        });
      channel.postMessage({ kind: "hello" }); // a leader answers with its state
    }

    function lead() {
      leading = true;
      setRole("leader");
      leaderLink = null;
      caughtUp = null;
      setState(everLive ? "reconnecting" : "connecting");
      if (socket) socket.connect();
      else openSocket();
    }

    // Leaves the group at once: the lock (and so the socket) goes to another tab now, not when this
    // page is finally destroyed, and a page kept in the back-forward cache neither leads nor waits.
    function leaveGroup() {
      if (lockRequest) {
        lockRequest.abort();
        lockRequest = null;
      }
      if (leading) {
        leading = false;
        if (channel) channel.postMessage({ kind: "state", state: state, link: null });
        if (socket) socket.disconnect();
        const release = resign;
        resign = null;
        if (release) release();
      }
      if (channel) {
        channel.close();
        channel = null;
      }
    }

    function onGroupMessage(event) {
      const message = event.data;
      if (signedOut || !message || typeof message !== "object") return;
      if (leading) {
        if (message.kind === "hello") announce();
        return;
      }
      if (message.kind === "envelope") {
        receive(message.envelope);
      } else if (message.kind === "state" && Object.prototype.hasOwnProperty.call(STATES, message.state)) {
        if (message.state === "signed-out") {
          endSession(); // the group's session ended: the leader's token request was refused
          return;
        }
        leaderState = message.state;
        leaderLink = typeof message.link === "string" ? message.link : null;
        offline.adopt(message.why); // the leader's reason, which this tab cannot see for itself
        if (leaderLink && leaderLink !== caughtUp && leaderLink !== catchingUp) catchUp(leaderLink);
        showFollowerState();
      }
    }

    // A follower is live once the leader is and it has caught up on the leader's current connection.
    function showFollowerState() {
      if (signedOut || leading) return;
      if (leaderState !== "live") setState(leaderState);
      else if (leaderLink && caughtUp === leaderLink) setState("live");
      else setState(everLive ? "reconnecting" : "connecting");
    }

    async function catchUp(link) {
      catchingUp = link;
      const ok = await sync();
      if (catchingUp === link) catchingUp = null;
      if (leading || link !== leaderLink) return; // a newer connection's catch-up is the one that counts
      if (ok) {
        caughtUp = link;
        everLive = true;
      } else if (!signedOut) {
        setTimeout(() => !leading && leaderLink === link && link !== caughtUp && catchUp(link), 3000);
      }
      showFollowerState();
    }

    window.addEventListener("pagehide", () => {
      if (role !== "own") leaveGroup();
    });
    window.addEventListener("pageshow", (event) => {
      // Back from the back-forward cache: join again, and catch up on what happened meanwhile.
      if (event.persisted && SHARED && !signedOut && !channel) {
        joinGroup();
        sync();
      }
    });

    // ---- the socket --------------------------------------------------------------------------------

    let socket = null;
    let retryDelay = 1000;

    // An envelope from the socket, or relayed by the leader: buffered while a catch-up runs.
    function receive(envelope) {
      if (model.receive(envelope)) app.view.renderAll();
      if (model.needsSync && !model.syncing) sync();
    }

    function retryLater() {
      if (!mayConnect()) return;
      setState(everLive ? "reconnecting" : "connecting");
      setTimeout(() => {
        if (socket && !socket.connected && mayConnect()) socket.connect();
      }, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    }

    async function onConnect() {
      retryDelay = 1000;
      if (await sync()) {
        everLive = true;
        if (socket.connected) setState("live");
      } else if (mayConnect() && socket.connected) {
        setTimeout(() => socket.connected && onConnect(), 3000);
      }
    }

    function openSocket() {
      socket = window.io(cfg.pusherUrl || undefined, {
        transports: ["websocket", "polling"],
        // Called before every connection attempt: each gets a fresh short-lived token.
        auth: (cb) => {
          app.server
            .getJSON(cfg.tokenUrl)
            .then((data) => cb({ token: data.token }))
            .catch(() => cb({ token: "" }));
        },
      });
      socket.on("connect", () => {
        if (!mayConnect()) {
          socket.disconnect(); // this tab stopped leading during the handshake
          return;
        }
        links += 1;
        socketLink = TAB_ID + ":" + links;
        if (leading) announce(); // the followers catch up on this connection, as this tab does
        onConnect();
      });
      socket.on(SOCKET_EVENT, (envelope) => {
        if (leading && channel) channel.postMessage({ kind: "envelope", envelope: envelope });
        receive(envelope);
      });
      // A refused handshake is not retried by socket.io itself: retry with a fresh token.
      socket.on("connect_error", (err) => {
        offline.diagnose(err);
        if (!socket.active) retryLater();
        else if (mayConnect()) setState(everLive ? "reconnecting" : "connecting");
      });
      socket.on("disconnect", (reason) => {
        socketLink = null;
        // The server closed us (logout, revocation): find out whether we may come back.
        if (reason === "io server disconnect") retryLater();
        else if (reason !== "io client disconnect" && !signedOut) setState("reconnecting");
        if (leading) announce();
      });
    }

    window.addEventListener("offline", () => {
      if (!signedOut) setState("offline");
    });
    window.addEventListener("online", () => {
      if (signedOut) return;
      if (role === "follower") {
        showFollowerState(); // the leader reconnects, and says so
      } else if (socket && !socket.connected && mayConnect()) {
        setState("reconnecting");
        socket.connect();
      }
    });

    // Without socket.io the panel still works, from the JSON API: offline, as far as live goes.
    function start() {
      if (typeof window.io !== "function") {
        setState("offline");
      } else if (SHARED) {
        setState("connecting");
        joinGroup();
      } else {
        setRole("own");
        setState("connecting");
        openSocket();
      }
    }

    return { start: start, sync: sync, afterChange: afterChange, endSession: endSession };
  }

  (window.HeraldWidget = window.HeraldWidget || {}).connection = { create: create };
})();
