"""The WSGI server classes a pusher runs under, minus the reference cycles they leave per connection.

eventlet's HttpProtocol and gevent's WSGIHandler end each connection as a cycle (the handler, its
socket, its buffered reader and writer, bound methods): some thirty objects and an 8 kB buffer that only
a garbage collection frees. A pusher freezes long-lived objects to keep full collections short
(gc_tuning.py), so under churn those cycles were frozen too and piled up until the next reclaim: RSS
grew by about 17 MB per 2,000 sockets opened and closed. Emptied once the connection is over, the
handler is freed by reference counting, with everything it held.
"""

from __future__ import annotations


def server_options(async_mode: str) -> dict:
    """Keyword arguments for Flask-SocketIO's ``run`` in this async mode."""
    if async_mode == "eventlet":
        import eventlet.wsgi

        class Protocol(eventlet.wsgi.HttpProtocol):
            def __init__(self, conn_state, server):
                try:
                    super().__init__(conn_state, server)  # the whole connection: setup, handle, finish
                finally:
                    self.__dict__.clear()

        return {"protocol": Protocol}

    from gevent import pywsgi

    class Handler(pywsgi.WSGIHandler):
        def handle(self):
            try:
                super().handle()
            finally:
                self.__dict__.clear()

    return {"handler_class": Handler}
