// Bootstrap follows the system's light or dark scheme, as Herald's widget does by itself. A file, not an inline
// script: the site's Content-Security-Policy (web/csp.py) allows scripts from 'self' only. Loaded in <head>,
// without defer, so that the first paint already has the right scheme.
document.documentElement.dataset.bsTheme = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
