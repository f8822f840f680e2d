"""The worker side, from an event to sockets: routing (which queue, or the drain), the fan-out in chunks
(fanout.py) or many events at once (drain.py), the rows (rows.py), the publish after commit (publish.py) and the
re-drive of events left behind (redrive.py). Requests reach this layer only through routing.py, to enqueue.
"""
