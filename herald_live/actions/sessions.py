"""Ending sessions: the row goes, and every pusher drops the session's sockets (after commit, by a worker).

Logout, a password change (signals.py), the sessions page and a host's own "log out my other devices" call
these: deleting Session rows directly leaves their open sockets connected until the session's expiry.
"""

from __future__ import annotations

import logging

from user_sessions.models import Session

from herald_live import wire
from herald_live.infra import jobs
from herald_live.push import subscriptions as push_subscriptions

logger = logging.getLogger(__name__)


def end_session(*, session_key: str) -> None:
    """Enqueues the closing of a session's sockets (logout, revocation); only its digest travels."""
    # Without the queue the session still ends (its row is gone, so nothing is published to it); its
    # open sockets then stay idle until the session's expiry closes them.
    jobs.enqueue_on_commit(jobs.DROP_SESSIONS, [wire.session_digest(session_key)])
    # The browser that logged out gets no more web pushes for this user (a shared computer).
    push_subscriptions.remove_for_session(session_digest=wire.session_digest(session_key))


def revoke_session(*, user, session_digest: str) -> bool:
    """Ends one of the user's sessions, named by digest (keys never reach the page)."""
    for key in Session.objects.filter(user=user).values_list("session_key", flat=True):
        if wire.session_digest(key) == session_digest:
            _end_sessions(user=user, session_keys=[key])
            logger.info("session revoked user_id=%s session=%s", user.pk, session_digest)
            return True
    return False


def revoke_other_sessions(*, user, current_session_key: str) -> int:
    keys = list(
        Session.objects.filter(user=user).exclude(session_key=current_session_key).values_list("session_key", flat=True)
    )
    _end_sessions(user=user, session_keys=keys)
    logger.info("other sessions revoked user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def end_all_sessions(*, user) -> int:
    """After a password change: every session ends (Django then gives the changer a new one)."""
    keys = list(Session.objects.filter(user=user).values_list("session_key", flat=True))
    _end_sessions(user=user, session_keys=keys)
    logger.info("all sessions ended user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def _end_sessions(*, user, session_keys: list[str]) -> None:
    Session.objects.filter(user=user, session_key__in=session_keys).delete()
    for key in session_keys:
        end_session(session_key=key)
