"""Web push: a notification reaches the browsers of a user away from the site (docs/channels.md, "Web push").

subscriptions (what a browser's subscription must be, storing it), selectors (reads), audience (who needs a
push, asked by the fan-out), send (the task that posts them), vapid (the site's key pair), views (HTTP).
"""
