// Herald's notification center, its items: the markup of one notification (as herald/center.html renders
// one), its level's words, and times as people read them. view.js and alerts.js build with these.
// User text is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";

  function create(app) {
    const cfg = app.cfg;
    const model = app.model;
    const gettext = app.gettext;

    const LEVELS = {
      success: gettext("Success"),
      info: gettext("Info"),
      warning: gettext("Warning"),
      error: gettext("Error"),
    };

    function levelClass(level) {
      return Object.prototype.hasOwnProperty.call(LEVELS, level) ? level : "other";
    }

    function el(tag, className, text) {
      const node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    function icon(kind) {
      const ns = "http://www.w3.org/2000/svg";
      const svg = document.createElementNS(ns, "svg");
      svg.setAttribute("viewBox", "0 0 16 16");
      svg.setAttribute("width", "16");
      svg.setAttribute("height", "16");
      svg.setAttribute("fill", "currentColor");
      svg.setAttribute("aria-hidden", "true");
      svg.setAttribute("focusable", "false");
      let shape;
      if (kind === "dot") {
        shape = document.createElementNS(ns, "circle");
        shape.setAttribute("cx", "8");
        shape.setAttribute("cy", "8");
        shape.setAttribute("r", "4");
      } else {
        shape = document.createElementNS(ns, "path");
        shape.setAttribute(
          "d",
          kind === "check"
            ? "M13.78 4.22a.75.75 0 0 1 0 1.06l-7.25 7.25a.75.75 0 0 1-1.06 0L2.22 9.28a.75.75 0 0 1 1.06-1.06L6 10.94l6.72-6.72a.75.75 0 0 1 1.06 0z"
            : "M3.72 3.72a.75.75 0 0 1 1.06 0L8 6.94l3.22-3.22a.75.75 0 1 1 1.06 1.06L9.06 8l3.22 3.22a.75.75 0 1 1-1.06 1.06L8 9.06l-3.22 3.22a.75.75 0 0 1-1.06-1.06L6.94 8 3.72 4.78a.75.75 0 0 1 0-1.06z"
        );
      }
      svg.append(shape);
      return svg;
    }

    // Only http(s) and this site's own paths: never javascript:, data: and the like.
    function safeUrl(url) {
      if (typeof url !== "string" || !url.trim()) return null;
      try {
        const parsed = new URL(url, window.location.href);
        return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
      } catch (err) {
        return null;
      }
    }

    const relative = "RelativeTimeFormat" in Intl ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
    const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
    const STEPS = [
      [60, "second"],
      [60, "minute"],
      [24, "hour"],
      [7, "day"],
      [4.345, "week"],
      [12, "month"],
    ];

    function relativeTime(date) {
      if (!relative) return date.toLocaleString();
      let value = (date.getTime() - Date.now()) / 1000;
      if (Math.abs(value) < 45) return relative.format(0, "second");
      for (const [size, unit] of STEPS) {
        const rounded = Math.round(value);
        if (Math.abs(rounded) < size) return relative.format(rounded, unit);
        value /= size;
      }
      return relative.format(Math.round(value), "year");
    }

    function showTime(time) {
      const date = new Date(time.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      time.textContent = relativeTime(date);
      time.title = fullDate.format(date);
    }

    function refreshTimes() {
      document.querySelectorAll(".herald-scope time[datetime]").forEach(showTime);
    }

    // The markup of an item (as herald/center.html renders one), from a payload.
    function fill(li, n) {
      const focused = li.contains(document.activeElement);
      li.className = "herald-item herald-level-" + levelClass(n.level) + (n.unread ? " herald-unread" : "");
      li.dataset.heraldId = String(n.id);
      const dot = el("span", "herald-item-dot");
      dot.setAttribute("aria-hidden", "true");
      const body = el("div", "herald-item-body");
      const text = el("p", "herald-item-text");
      text.append(el("span", "herald-actor", String(n.actor)), " ", el("span", "herald-verb", n.verb));
      if (n.target && typeof n.target.text === "string") {
        const url = safeUrl(n.target.url);
        const target = el(url ? "a" : "span", "herald-target", n.target.text);
        if (url) target.href = url;
        text.append(" ", target);
      }
      body.append(text);
      if (n.description) body.append(el("p", "herald-description", String(n.description)));
      const meta = el("p", "herald-meta");
      const time = el("time");
      time.setAttribute("datetime", String(n.timestamp));
      showTime(time);
      meta.append(el("span", "herald-level", LEVELS[n.level] || String(n.level)), " ", time);
      if (n.unread) meta.append(el("span", "herald-sr-only", " " + gettext("Unread")));
      if (n.target && cfg.mutesUrl) {
        const muted = model.mutedIds.has(n.id);
        const mute = el("button", "herald-mute", muted ? gettext("Muted") : gettext("Mute"));
        mute.type = "button";
        mute.disabled = muted;
        mute.title = gettext("No more notifications about this");
        meta.append(" ", mute);
      }
      body.append(meta);
      const toggle = el("button", "herald-toggle");
      toggle.type = "button";
      toggle.dataset.heraldAction = n.unread ? "read" : "unread";
      const label = n.unread ? gettext("Mark as read") : gettext("Mark as unread");
      toggle.setAttribute("aria-label", label);
      toggle.title = label;
      toggle.append(icon(n.unread ? "check" : "dot"));
      li.replaceChildren(dot, body, toggle);
      if (focused) toggle.focus();
    }

    return {
      LEVELS: LEVELS,
      levelClass: levelClass,
      el: el,
      icon: icon,
      refreshTimes: refreshTimes,
      fill: fill,
    };
  }

  (window.HeraldWidget = window.HeraldWidget || {}).items = { create: create };
})();
