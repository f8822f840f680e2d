"""Email digests: one email per user listing what stayed unread (docs/channels.md, "Email").

due (who is due, and with what), claims (at most once), message (the email and its unsubscribe link),
digests (a run), views (the one-click unsubscribe).
"""
