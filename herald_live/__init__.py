"""Herald: live notifications for Django sites (docs/integrate.md).

This module imports nothing: the pusher, which never imports Django, is part of the same package.
"""

__version__ = "0.2.0"
