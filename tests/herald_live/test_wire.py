import json

import pytest

from herald_live import wire

SECRET = "s" * 40
OTHER = "o" * 40


def sign(**overrides):
    args = {"secret": SECRET, "session": wire.session_digest("key"), "user_id": 7, "now": 1_000_000}
    return wire.sign_token(**{**args, **overrides})


def test_a_signed_token_verifies_to_its_claims():
    claims = wire.verify_token(token=sign(), secrets=[SECRET], now=1_000_010)

    assert claims == wire.TokenClaims(session=wire.session_digest("key"), user_id=7, expires_at=1_000_120)


def test_a_token_signed_with_a_rotated_out_secret_still_verifies():
    assert wire.verify_token(token=sign(secret=OTHER), secrets=[SECRET, OTHER], now=1_000_000).user_id == 7


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        (42, "missing"),
        ("v1.abc", "malformed"),
        ("v2.abc.def", "malformed"),
        ("x" * 2000, "too long"),
    ],
)
def test_malformed_tokens_are_refused(token, reason):
    with pytest.raises(wire.TokenError, match=reason):
        wire.verify_token(token=token, secrets=[SECRET], now=1_000_000)


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(wire.TokenError, match="signature"):
        wire.verify_token(token=sign(secret=OTHER), secrets=[SECRET], now=1_000_000)


def test_altered_claims_are_refused():
    prefix, body, signature = sign().split(".")
    claims = json.loads(wire.b64url_decode(body))
    claims["uid"] = 8
    forged = ".".join([prefix, wire.b64url_encode(json.dumps(claims).encode()), signature])

    with pytest.raises(wire.TokenError, match="signature"):
        wire.verify_token(token=forged, secrets=[SECRET], now=1_000_000)


def test_an_expired_token_is_refused_past_the_clock_skew():
    token = sign(ttl_seconds=60)
    assert wire.verify_token(token=token, secrets=[SECRET], now=1_000_060 + wire.CLOCK_SKEW_SECONDS)

    with pytest.raises(wire.TokenError, match="expired"):
        wire.verify_token(token=token, secrets=[SECRET], now=1_000_061 + wire.CLOCK_SKEW_SECONDS)


def test_no_configured_secret_refuses_everything():
    with pytest.raises(wire.TokenError):
        wire.verify_token(token=sign(), secrets=[], now=1_000_000)


def test_the_session_key_appears_nowhere_in_the_token_or_room():
    key = "k3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3"
    digest = wire.session_digest(key)
    token = wire.sign_token(secret=SECRET, session=digest, user_id=1)

    assert key not in wire.b64url_decode(token.split(".")[1]).decode()
    assert key not in token
    assert key not in wire.session_room(digest)
    assert digest != wire.session_digest(key + "x")


def test_envelopes_carry_version_type_and_data():
    assert wire.notifications_read(up_to_id=5) == {"v": 1, "type": "notifications.read", "data": {"up_to_id": 5}}
    assert wire.notification_created({"id": 1})["type"] == wire.NOTIFICATION_CREATED


def test_a_session_room_gives_back_its_digest_and_other_rooms_none():
    digest = wire.session_digest("abc")
    assert wire.room_session(wire.session_room(digest)) == digest
    assert wire.room_session(wire.BATCH_ROOM) is None
    assert wire.presence_key("herald") == "herald:presence"
