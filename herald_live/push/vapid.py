"""VAPID (RFC 8292): the key pair that identifies this site to the browsers' push services.

Keys travel as settings in the form browsers and pywebpush take them: the public key is the
uncompressed P-256 point (65 bytes), the private key the raw 32-byte scalar, both base64url
without padding. ``cryptography`` comes with the ``push`` extra, so it is imported late: a site
without push never needs it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from herald_live.conf import app_settings

# What push services (and py_vapid) accept as the "sub" claim: a contact address or page.
SUBJECT = re.compile(r"mailto:[^@\s]+@(localhost|[\w-]+(\.[\w-]+)+)|https://[\w.-]+\.[\w-]+", re.ASCII)
PUBLIC_KEY_BYTES = 65
PRIVATE_KEY_BYTES = 32


@dataclass(frozen=True)
class KeyPair:
    public_key: str
    private_key: str


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict: base64url characters only (padding optional), else ValueError."""
    if not isinstance(text, str) or not text.isascii() or "+" in text or "/" in text:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def generate() -> KeyPair:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(public_key=_public_of(key), private_key=b64url_encode(_scalar(key)))


def configured() -> bool:
    """Push is on: both keys and a subject are set (the system check says which one is missing)."""
    return bool(app_settings.VAPID_PUBLIC_KEY and app_settings.VAPID_PRIVATE_KEY and app_settings.VAPID_SUBJECT)


def problems() -> list[str]:
    """What is wrong with the VAPID settings, in words; empty when push is off or well configured."""
    public, private, subject = (
        app_settings.VAPID_PUBLIC_KEY,
        app_settings.VAPID_PRIVATE_KEY,
        app_settings.VAPID_SUBJECT,
    )
    if not (public or private or subject):
        return []
    missing = [
        name for name, value in (("PUBLIC_KEY", public), ("PRIVATE_KEY", private), ("SUBJECT", subject)) if not value
    ]
    if missing:
        return [f"HERALD_VAPID_{name} is empty" for name in missing]
    found = []
    if not (isinstance(subject, str) and SUBJECT.fullmatch(subject)):
        found.append("HERALD_VAPID_SUBJECT must be a mailto: address or an https: origin (https://www.example.com)")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return [*found, 'web push needs the "push" extra: pip install "django-herald-live[push]"']
    try:
        derived = _public_of(_private_key(private))
    except ValueError:
        return [*found, "HERALD_VAPID_PRIVATE_KEY is not a base64url P-256 private key"]
    if derived != public.rstrip("="):
        found.append("HERALD_VAPID_PUBLIC_KEY is not the public key of HERALD_VAPID_PRIVATE_KEY")
    return found


def signer():
    """A py_vapid signer for the configured private key (one per task: signing is cheap, parsing is not free)."""
    from py_vapid import Vapid

    return Vapid.from_raw(app_settings.VAPID_PRIVATE_KEY.rstrip("=").encode("ascii"))


def _private_key(text: str):
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = b64url_decode(text)
    if len(raw) != PRIVATE_KEY_BYTES:
        raise ValueError("a P-256 private key is 32 bytes")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def _scalar(key) -> bytes:
    return key.private_numbers().private_value.to_bytes(PRIVATE_KEY_BYTES, "big")


def _public_of(key) -> str:
    from cryptography.hazmat.primitives import serialization

    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url_encode(point)
