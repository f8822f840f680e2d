"""The site the digests link to (HERALD_SITE_URL), and the digests' settings as the system check reads them."""

from __future__ import annotations

from urllib.parse import urlsplit

from herald_live.conf import app_settings
from herald_live.selectors import notifications


class EmailNotConfigured(RuntimeError):
    """HERALD_SITE_URL is not set: the emails would have no link to the site."""


def site_configured() -> bool:
    return bool(app_settings.SITE_URL)


def site_url() -> str:
    url = (app_settings.SITE_URL or "").rstrip("/")
    if not url:
        raise EmailNotConfigured("HERALD_SITE_URL is not set: digest emails need a link to the site")
    return url


def settings_problems() -> list[str]:
    """What is wrong with the digests' settings (system check herald_live.E020); empty when nothing is."""
    problems = []
    url = app_settings.SITE_URL
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        problems.append(f"HERALD_SITE_URL must be the site's absolute http(s) URL (https://example.com), not {url!r}")
    hour = app_settings.EMAIL_DIGEST_HOUR
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        problems.append(f"HERALD_EMAIL_DIGEST_HOUR must be an hour from 0 to 23 (UTC), not {hour!r}")
    minutes = app_settings.EMAIL_DIGEST_DELAY_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        problems.append(f"HERALD_EMAIL_DIGEST_DELAY_MINUTES must be a whole number from 1 to 1440, not {minutes!r}")
    for name in ("EMAIL_DIGEST_MAX_ITEMS", "EMAIL_DIGEST_BATCH_SIZE", "EMAIL_DIGEST_MAX_AGE_SECONDS"):
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"HERALD_{name} must be a whole number of at least 1, not {value!r}")
    return problems


def absolute_url(url: str | None) -> str | None:
    """A target's link as an email needs it: absolute, http(s) only."""
    url = notifications.safe_target_url(url)
    if url is None:
        return None
    if urlsplit(url).scheme:
        return url
    return site_url() + url if url.startswith("/") else None
