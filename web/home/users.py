"""Recipient suggestions for the send form: a few usernames by prefix, never the user table."""

from __future__ import annotations

from itertools import product

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Q

MAX_SUGGESTIONS = 10
PREFIX_MAX_LENGTH = 150
# Case variants are spelled out for this many leading characters: at most 2**3 index ranges.
VARIANT_CHARS = 3


def suggest_usernames(*, prefix: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Active users whose username starts with ``prefix``, ignoring case, in username order.

    A case-insensitive LIKE cannot use the username index (PostgreSQL compares UPPER(username),
    SQLite's LIKE ignores its BINARY index), so the rows are first narrowed to the index ranges
    of the case variants of the prefix's first letters, and the exact test runs on those only.
    """
    User = get_user_model()
    field = User.USERNAME_FIELD
    rows = User._default_manager.filter(is_active=True, **{f"{field}__istartswith": prefix})
    narrowing = _index_ranges(field=field, prefix=prefix, vendor=connections[rows.db].vendor)
    if narrowing is not None:
        rows = rows.filter(narrowing)
    return list(rows.order_by(field).values_list(field, flat=True)[:limit])


def _index_ranges(*, field: str, prefix: str, vendor: str) -> Q | None:
    # Only ASCII letters have one obvious other case everywhere; a prefix that begins with
    # anything else is matched without narrowing (still LIMITed).
    head = ""
    for char in prefix[:VARIANT_CHARS]:
        if not char.isascii():
            break
        head += char
    if not head:
        return None
    condition = Q()
    for letters in product(*({c.lower(), c.upper()} for c in head)):
        start = "".join(letters)
        if vendor == "postgresql":
            # LIKE 'start%' uses the varchar_pattern_ops index Django makes for unique text columns;
            # a range would follow the column's linguistic collation instead of the bytes.
            condition |= Q(**{f"{field}__startswith": start})
        else:
            # Everywhere else (SQLite: BINARY collation), a prefix is the half-open range below.
            condition |= Q(**{f"{field}__gte": start, f"{field}__lt": start[:-1] + chr(ord(start[-1]) + 1)})
    return condition
