"""The connection token: Herald's own format (herald_live/wire.py) beside itsdangerous, measured in one process.

    python -m bench.tokens [--rounds 20000]

Both are HMAC-SHA256 over compact JSON with a list of keys for rotation: itsdangerous's URLSafeSerializer is set up
as Herald would use it (SHA-256, a salt of its own, the newest key last). Prints microseconds per sign and verify,
with one key and with an old key still accepted, and the token's length. Nothing is started; no file is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import time
import timeit

from itsdangerous import URLSafeSerializer

from herald_live import wire

SESSION = "a" * 40  # a session digest's length


def per_call_us(call, rounds: int) -> float:
    """The fastest of five runs, in microseconds per call: the machine is shared, the floor is what the code costs."""
    return min(timeit.repeat(call, number=rounds, repeat=5)) / rounds * 1e6


def measure(rounds: int) -> dict:
    current, old = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    now = int(time.time())
    claims = {"sid": SESSION, "uid": 123456, "exp": now + 120, "sexp": now + 14 * 86400}

    ours = wire.sign_token(secret=current, session=SESSION, user_id=123456, session_expires_at=claims["sexp"])
    serializer = URLSafeSerializer([current], salt="herald.socket", signer_kwargs={"digest_method": hashlib.sha256})
    # itsdangerous tries keys newest (last) first; the token was signed with the older one, as during a rotation.
    rotating = URLSafeSerializer([current, old], salt="herald.socket", signer_kwargs={"digest_method": hashlib.sha256})
    theirs = serializer.dumps(claims)
    assert wire.verify_token(token=ours, secrets=[current]).user_id == serializer.loads(theirs)["uid"] == 123456

    return {
        "rounds": rounds,
        "herald": {
            "sign_us": per_call_us(
                lambda: wire.sign_token(
                    secret=current, session=SESSION, user_id=123456, session_expires_at=claims["sexp"]
                ),
                rounds,
            ),
            "verify_us": per_call_us(lambda: wire.verify_token(token=ours, secrets=[current]), rounds),
            "verify_during_rotation_us": per_call_us(
                lambda: wire.verify_token(token=ours, secrets=[old, current]), rounds
            ),
            "length": len(ours),
        },
        "itsdangerous": {
            "sign_us": per_call_us(lambda: serializer.dumps(claims), rounds),
            "verify_us": per_call_us(lambda: serializer.loads(theirs), rounds),
            "verify_during_rotation_us": per_call_us(lambda: rotating.loads(theirs), rounds),
            "length": len(theirs),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20000)
    result = measure(parser.parse_args().rounds)
    for name in ("herald", "itsdangerous"):
        row = result[name]
        print(
            f"{name:>12}: sign {row['sign_us']:.1f} us, verify {row['verify_us']:.1f} us, "
            f"verify with an old key first {row['verify_during_rotation_us']:.1f} us, {row['length']} characters"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
