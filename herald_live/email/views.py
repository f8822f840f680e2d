"""The email digests' unsubscribe link: no login, the signed token in the URL is the proof."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from herald_live.email import unsubscribe as digests_unsubscribe
from herald_live.infra.http import error_response, methods


# A mail client's one-click POST (RFC 8058) carries no CSRF token: the signed token stands for it, and all it can
# do is turn emails off.
@csrf_exempt
@never_cache
@methods("GET", "POST")
def unsubscribe(request: HttpRequest, token: str):
    """GET: a page that asks (link scanners open links, and must unsubscribe nobody). POST: digests off, 200."""
    try:
        user_id = digests_unsubscribe.unsubscribe_user_id(token=token)
    except signing.BadSignature:
        return error_response(
            request,
            status=400,
            message=_(
                "This unsubscribe link is not valid: it may have been cut or changed. "
                "Use the whole link from the email, or change your notification preferences on the site."
            ),
        )
    if request.method == "POST":
        digests_unsubscribe.unsubscribe(user_id=user_id)
        return render(request, "herald/email/unsubscribed.html", {"preferences_url": reverse("herald:preferences")})
    return render(request, "herald/email/unsubscribe.html")
