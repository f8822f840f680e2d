// Herald's notification center, a socket that does not come up (docs/browser.md, "When the live server is away").
//
// Reconnecting is normal for a moment (a pusher restarts, a network changes). Past OFFLINE_AFTER_MS the widget says
// it is offline and retrying, and why when the page can know: the pusher refused the token (its refusal names the
// setting to fix), it answered but refused the page's origin, or nothing answers at its address. The developer
// reads the same in the browser's console, with the setting to change. Until the socket is back the state endpoint
// is polled, backing off, so that new notifications still show; the catch-up of the next connect applies what came
// meanwhile, once each (every change is idempotent by id). connection.js drives it.
(function () {
  "use strict";

  const OFFLINE_AFTER_MS = 6000;
  const POLL_FIRST_MS = 5000;
  const POLL_MAX_MS = 60000;

  // options: {pusherUrl, gettext, giveUp() (down for OFFLINE_AFTER_MS), poll() (a catch-up: a promise, or null
  // when there is nothing to poll for), changed() (the reason changed)}.
  function create(options) {
    const gettext = options.gettext;
    const WORDS = {
      token: gettext("the live server refused this page's credentials"),
      origin: gettext("the live server refused this page's address"),
      unreachable: gettext("the live server does not answer"),
    };
    let why = ""; // a key of WORDS, or "" while unknown
    let downTimer = null;
    let pollTimer = null;
    let pollDelay = POLL_FIRST_MS;
    let probing = false;

    // The socket is not up: after OFFLINE_AFTER_MS without it, the widget gives up saying "reconnecting".
    function down() {
      if (downTimer) return;
      downTimer = setTimeout(() => {
        downTimer = null;
        options.giveUp();
      }, OFFLINE_AFTER_MS);
    }

    function up() {
      clearTimeout(downTimer);
      clearTimeout(pollTimer);
      downTimer = pollTimer = null;
      pollDelay = POLL_FIRST_MS;
      why = "";
    }

    // Polls until up(): the first look POLL_FIRST_MS from now, then twice as long each time, up to POLL_MAX_MS.
    function poll() {
      if (pollTimer) return;
      pollTimer = setTimeout(async () => {
        const looked = options.poll();
        if (!looked) {
          pollTimer = null;
          return;
        }
        await looked;
        pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS);
        pollTimer = null;
        poll();
      }, pollDelay);
    }

    function explain(kind, detail) {
      if (why === kind) return;
      why = kind;
      console.warn("Herald: " + detail);
      options.changed();
    }

    // Why a connect failed. The pusher's refusal says it; a transport error is told apart by asking the pusher's
    // address for anything at all: an answer (opaque, whatever it is) means something is there, so it refused this
    // page's origin (a browser hides that from the page); no answer means nothing is there.
    function diagnose(err) {
      const where = (options.pusherUrl || window.location.origin).replace(/\/$/, "");
      if (err && err.message === "unauthorized") {
        const data = err.data || {};
        explain("token", "the pusher at " + where + " refused this page's token (" + data.reason + "): " + data.fix);
        return;
      }
      // After a refused token the pusher closes the transport: the errors that follow say nothing new.
      if (probing || why === "token") return;
      probing = true;
      fetch(where + "/socket.io/?EIO=4&transport=polling", { mode: "no-cors", cache: "no-store", credentials: "omit" })
        .then(() =>
          explain(
            "origin",
            "the pusher at " +
              where +
              " answered but refused this page's origin " +
              window.location.origin +
              ": add it to the pusher's HERALD_ALLOWED_ORIGINS, or open the site at an origin listed there"
          )
        )
        .catch(() =>
          explain(
            "unreachable",
            "the pusher at " +
              where +
              " does not answer: is herald-pusher running, and is the site's HERALD_PUSHER_URL where browsers reach it?"
          )
        )
        .finally(() => {
          probing = false;
        });
    }

    // A follower takes its leader's reason: it opens no socket of its own.
    function adopt(kind) {
      if (Object.prototype.hasOwnProperty.call(WORDS, kind) && kind !== why) {
        why = kind;
        options.changed();
      }
    }

    return {
      down: down,
      up: up,
      poll: poll,
      diagnose: diagnose,
      adopt: adopt,
      reason: () => why,
      words: () => WORDS[why] || "",
    };
  }

  (window.HeraldWidget = window.HeraldWidget || {}).offline = { create: create };
})();
