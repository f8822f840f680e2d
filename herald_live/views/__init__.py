"""Herald's HTTP views, the top layer: center (the notification center's JSON API and pages), socket (the
pusher's connection token), preferences (the page and its JSON API), api (the HTTP API for services).
Web push's and the email digests' views live in their feature packages (push/views.py, email/views.py).
"""
