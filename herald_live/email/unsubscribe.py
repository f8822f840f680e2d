"""The one-click unsubscribe of the digests (RFC 8058): a signed link that names its user, and what it does."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse

from herald_live.actions import preferences
from herald_live.email import site
from herald_live.models import DeliverySettings

UNSUBSCRIBE_SALT = "herald.email.unsubscribe"

logger = logging.getLogger(__name__)


def unsubscribe_token(*, user_id: int) -> str:
    """Signed with the site's SECRET_KEY and a salt of its own: it names the user and proves the link came from us."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"u": user_id})


def unsubscribe_user_id(*, token: str) -> int:
    """The user an unsubscribe token names; signing.BadSignature for anything else."""
    data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    user_id = data.get("u") if isinstance(data, dict) else None
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise signing.BadSignature("the token names no user")
    return user_id


def unsubscribe_url(*, user_id: int) -> str:
    return site.site_url() + reverse("herald:email_unsubscribe", args=[unsubscribe_token(user_id=user_id)])


def unsubscribe(*, user_id: int) -> bool:
    """Turns the user's digests off (what the one-click link does); False if there is no such user."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return False
    preferences.update(user=user, choices={}, email_digest=DeliverySettings.EmailDigest.OFF)
    logger.info("email digests turned off by the unsubscribe link user_id=%s", user_id)
    return True
