"""Browsers' Web Push subscriptions: what a subscription must look like to be stored, and storing it.

A subscription's endpoint is a URL the workers will POST to, so it is an input to check as such:
https on a push service's host (HERALD_PUSH_SERVICE_HOSTS), never an address of the site's own
network. The keys must be what the encryption needs (a P-256 point and a 16-byte secret), so that
a bad one is refused here rather than failing every send.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from herald_live import wire
from herald_live.conf import app_settings
from herald_live.models import PushSubscription
from herald_live.push import vapid

logger = logging.getLogger(__name__)

ENDPOINT_MAX_LENGTH = PushSubscription._meta.get_field("endpoint").max_length
USER_AGENT_MAX_LENGTH = PushSubscription._meta.get_field("user_agent").max_length
AUTH_SECRET_BYTES = 16
# Devices (browsers) per user: a page that subscribes in a loop must not fill the table.
MAX_PER_USER = 20
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class InvalidSubscription(ValueError):
    """The browser's subscription cannot be used; the message says why, for the page."""


class TooManySubscriptions(ValueError):
    pass


@dataclass(frozen=True)
class SubscriptionInput:
    endpoint: str
    p256dh: str
    auth: str


def parse(data: object) -> SubscriptionInput:
    """``PushSubscription.toJSON()`` as the browser gives it: ``{"endpoint": ..., "keys": {"p256dh", "auth"}}``."""
    if not isinstance(data, dict):
        raise InvalidSubscription(_("The subscription must be a JSON object."))
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        raise InvalidSubscription(_("The subscription needs an endpoint and keys."))
    check_endpoint(endpoint)
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not _is_p256_point(p256dh):
        raise InvalidSubscription(_("keys.p256dh must be a base64url P-256 public key."))
    if not isinstance(auth, str) or not _has_length(auth, AUTH_SECRET_BYTES):
        raise InvalidSubscription(_("keys.auth must be a base64url 16-byte secret."))
    return SubscriptionInput(endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("="))


def check_endpoint(endpoint: str) -> None:
    if len(endpoint) > ENDPOINT_MAX_LENGTH:
        raise InvalidSubscription(_("The endpoint is too long."))
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidSubscription(_("The endpoint is not a URL.")) from None
    if not host or parts.username or parts.password or not endpoint.isascii() or any(c.isspace() for c in endpoint):
        raise InvalidSubscription(_("The endpoint is not a URL."))
    if host in LOCAL_HOSTS and (settings.DEBUG or app_settings.PUSH_ALLOW_INSECURE_ENDPOINTS):
        return  # a push service standing in on this machine (tests, development)
    if parts.scheme != "https":
        raise InvalidSubscription(_("The endpoint must be an https URL."))
    if _is_ip_literal(host) or host in LOCAL_HOSTS:
        raise InvalidSubscription(_("The endpoint must name a push service, not an address."))
    allowed = app_settings.PUSH_SERVICE_HOSTS
    if allowed and not any(host == name or host.endswith("." + name) for name in allowed):
        raise InvalidSubscription(_("The endpoint is not on a known push service."))


def save(
    *, user, subscription: SubscriptionInput, user_agent: str, session_key: str | None
) -> tuple[PushSubscription, bool]:
    """Stores the browser's subscription for ``user``; returns (row, created).

    The endpoint names one browser profile: sent again (another login in that browser, new keys),
    it moves to the user who sent it, so a browser never gets the pushes of its previous user.
    """
    fields = {
        "user": user,
        "p256dh": subscription.p256dh,
        "auth": subscription.auth,
        "user_agent": user_agent[:USER_AGENT_MAX_LENGTH],
        "session_digest": wire.session_digest(session_key) if session_key else "",
    }
    with transaction.atomic():
        existing = PushSubscription.objects.select_for_update().filter(endpoint=subscription.endpoint).first()
        if existing is None:
            if PushSubscription.objects.filter(user=user).count() >= MAX_PER_USER:
                raise TooManySubscriptions(
                    _("You have notifications on %(count)s devices already; remove one first.")
                    % {"count": MAX_PER_USER}
                )
            row = PushSubscription.objects.create(endpoint=subscription.endpoint, **fields)
            logger.info("push subscription added user_id=%s subscription_id=%s", user.pk, row.pk)
            return row, True
        for name, value in fields.items():
            setattr(existing, name, value)
        existing.save(update_fields=[*fields])
        return existing, False


def remove(*, user, endpoint: str | None = None, subscription_id: int | None = None) -> bool:
    """Removes one of the user's own subscriptions, named by endpoint or id; False if it has none such."""
    rows = PushSubscription.objects.filter(user=user)
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    elif subscription_id is not None:
        rows = rows.filter(pk=subscription_id)
    else:
        raise ValueError("name an endpoint or a subscription id")
    deleted = rows.delete()[0]
    if deleted:
        logger.info("push subscription removed user_id=%s", user.pk)
    return bool(deleted)


def remove_for_session(*, session_digest: str) -> int:
    """The subscriptions made from a session that ended (logout, revocation, a password change)."""
    deleted = PushSubscription.objects.filter(session_digest=session_digest).delete()[0]
    if deleted:
        logger.info("push subscriptions of an ended session removed count=%s", deleted)
    return deleted


def _has_length(text: str, length: int) -> bool:
    try:
        return len(vapid.b64url_decode(text)) == length
    except ValueError:
        return False


def _is_p256_point(text: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        raw = vapid.b64url_decode(text)
        if len(raw) != vapid.PUBLIC_KEY_BYTES:
            return False
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
