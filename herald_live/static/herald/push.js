/* Herald's web push switch for this browser: {% herald_push_button %} (docs/channels.md, "Web push").
 *
 * Shown only where the browser has the Push API. "Enable" asks for the notification permission, registers
 * Herald's service worker (scope: Herald's URL prefix, so it never replaces one of the site's own), subscribes
 * with the site's VAPID public key and POSTs the subscription to Herald; "Turn off" DELETEs it and unsubscribes.
 * Whether it is on comes from the server (a subscription made in this session); a subscription the browser kept
 * from an earlier login, or made with a key the site has replaced, shows as off until "Enable" stores it again.
 */
(function () {
  "use strict";

  const root = document.getElementById("herald-push");
  if (!root || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;

  const cfg = root.dataset;
  const enableButton = root.querySelector('[data-herald-push="enable"]');
  const disableButton = root.querySelector('[data-herald-push="disable"]');
  const status = root.querySelector(".herald-push-status");

  function csrfToken() {
    if (cfg.csrfCookie) {
      for (const cookie of document.cookie.split(";")) {
        const [name, ...value] = cookie.trim().split("=");
        if (name === cfg.csrfCookie) return decodeURIComponent(value.join("="));
      }
    }
    return cfg.csrfToken || "";
  }

  function keyBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  /* A subscription made with another key (the site's keys were replaced) cannot receive this site's pushes. */
  function madeWithThisKey(subscription) {
    const key = subscription.options && subscription.options.applicationServerKey;
    if (!key) return true;
    const have = new Uint8Array(key);
    const want = keyBytes(cfg.publicKey);
    return have.length === want.length && have.every((byte, i) => byte === want[i]);
  }

  async function store(method, body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    headers[cfg.csrfHeader || "X-CSRFToken"] = csrfToken();
    const response = await fetch(cfg.subscriptionsUrl, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(body),
    });
    // Removing what the server no longer has is done.
    if (!response.ok && !(method === "DELETE" && response.status === 404)) throw new Error("HTTP " + response.status);
  }

  /* navigator.serviceWorker.ready would wait for a worker that controls this page: Herald's never does. */
  async function activeRegistration() {
    const registration = await navigator.serviceWorker.register(cfg.swUrl, { scope: cfg.scope });
    if (registration.active) return registration;
    const worker = registration.installing || registration.waiting;
    await new Promise((resolve, reject) => {
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") resolve();
        else if (worker.state === "redundant") reject(new Error("the service worker could not be installed"));
      });
    });
    return registration;
  }

  async function currentSubscription() {
    const registration = await navigator.serviceWorker.getRegistration(cfg.scope);
    return registration ? registration.pushManager.getSubscription() : null;
  }

  /* A browser that cannot reach its push service (offline, a network that blocks it) never settles
   * pushManager.subscribe(): after this long the page says so rather than waiting for ever. */
  const SUBSCRIBE_TIMEOUT_MS = 20000;

  function withTimeout(promise, ms) {
    let timer = null;
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function show(on, message) {
    enableButton.hidden = on;
    disableButton.hidden = !on;
    status.textContent = message || "";
    root.dataset.state = on ? "on" : "off";
  }

  async function enable() {
    enableButton.disabled = true;
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        show(false, cfg.textBlocked);
        return;
      }
      const registration = await activeRegistration();
      let subscription = await registration.pushManager.getSubscription();
      if (subscription && !madeWithThisKey(subscription)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      if (!subscription) {
        status.textContent = cfg.textWaiting;
        const timeoutMs = Number(cfg.subscribeTimeoutMs) || SUBSCRIBE_TIMEOUT_MS;
        subscription = await withTimeout(
          registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(cfg.publicKey) }),
          timeoutMs
        );
      }
      await store("POST", subscription.toJSON());
      show(true, cfg.textOn);
    } catch (error) {
      show(false, error && error.message === "timeout" ? cfg.textUnreachable : cfg.textFailed);
    } finally {
      enableButton.disabled = false;
    }
  }

  async function disable() {
    disableButton.disabled = true;
    try {
      const subscription = await currentSubscription();
      if (subscription) {
        await store("DELETE", { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      show(false, cfg.textOff);
    } catch (error) {
      show(true, cfg.textFailed);
    } finally {
      disableButton.disabled = false;
    }
  }

  async function start() {
    root.hidden = false;
    show(false, Notification.permission === "denied" ? cfg.textBlocked : "");
    if (cfg.on !== "1" || Notification.permission !== "granted") return;
    try {
      const subscription = await currentSubscription();
      if (subscription && madeWithThisKey(subscription)) show(true, "");
    } catch (error) {
      show(false, "");
    }
  }

  enableButton.addEventListener("click", enable);
  disableButton.addEventListener("click", disable);
  start();
})();
