"""The pusher: a Socket.IO server that never imports Django (``herald-pusher`` or ``python -m herald_live.pusher``)."""
