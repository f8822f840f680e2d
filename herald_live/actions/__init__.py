"""Request-side writes: what a send, a "mark read", a logout or a preferences change does in the database.

Zulip's rule, applied here: these functions write, and queue whatever must follow (the fan-out, a live
update) by task name after commit (infra/jobs.py); they never fan out or publish themselves. Views, the
Python API (producers.py), management commands and signal receivers call them; workers do too.
"""
