"""The digest email: what it lists, in the site's language, with a text and an HTML part."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from notifications.swappable import load_notification_model as notification_model

from herald_live.conf import app_settings
from herald_live.email import site, unsubscribe
from herald_live.selectors import notifications


def items(notification_ids: Sequence[int]) -> list[dict]:
    rows = notification_model().objects.filter(pk__in=notification_ids).prefetch_related("actor", "target")
    items = []
    for n in sorted(rows, key=lambda row: row.pk, reverse=True):
        target = notifications.target_summary(n.target) if n.target_object_id else None
        items.append(
            {
                "actor": notifications.actor_name(n.actor),
                "verb": n.verb,
                "description": n.description or "",
                "target": target["text"] if target else "",
                "url": site.absolute_url(target["url"]) if target else None,
                "timestamp": n.timestamp,
            }
        )
    return items


def digest_message(*, user_id: int, email: str, notification_ids: Sequence[int]) -> EmailMultiAlternatives:
    """The email listing these notifications (newest first, at most HERALD_EMAIL_DIGEST_MAX_ITEMS of them),
    in the site's language, with a text and an HTML part and RFC 8058 one-click unsubscribe headers."""
    listed = list(notification_ids)[: app_settings.EMAIL_DIGEST_MAX_ITEMS]
    site_link = site.site_url()
    unsubscribe_link = unsubscribe.unsubscribe_url(user_id=user_id)
    context = {
        "notifications": items(listed),
        "total": len(notification_ids),
        "more": len(notification_ids) - len(listed),
        "site_url": site_link,
        "center_url": site_link + reverse("herald:center"),
        "preferences_url": site_link + reverse("herald:preferences"),
        "unsubscribe_url": unsubscribe_link,
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("herald/email/digest_subject.txt", context).split())
        text = render_to_string("herald/email/digest.txt", context)
        html = render_to_string("herald/email/digest.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message
