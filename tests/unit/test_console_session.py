"""Console sessions and CSRF tokens: signed, expiring, revocable, bound to the API keys."""

from __future__ import annotations

from orderflow.api.auth import ApiKeys
from orderflow.console.session import Sessions

KEYS = ["console-key-0123456789abcdef"]


def sessions(keys: list[str] = KEYS) -> Sessions:
    return Sessions(ApiKeys(keys).secret("console"), lifetime=3600)


def test_a_session_is_accepted_until_it_expires() -> None:
    made = sessions()
    token = made.new(now=1_000_000)
    assert made.check(token, now=1_000_000 + 3599) is not None
    assert made.check(token, now=1_000_000 + 3601) is None


def test_a_forged_or_damaged_token_is_refused() -> None:
    made = sessions()
    token = made.new()
    session_id, expires, signature = token.split(".")
    for forged in (
        f"{session_id}.{int(expires) + 10_000}.{signature}",  # a longer life
        f"other.{expires}.{signature}",
        f"{session_id}.{expires}.{signature[:-2]}xx",
        "",
        "a.b",
        "a.b.c.d",
        None,
    ):
        assert made.check(forged) is None, forged


def test_a_signed_out_session_is_refused() -> None:
    made = sessions()
    token = made.new()
    session = made.check(token)
    assert session is not None
    made.end(session.id)
    assert made.check(token) is None


def test_changing_the_api_keys_ends_every_session() -> None:
    token = sessions().new()
    assert sessions().check(token) is not None  # same keys: a restart keeps sessions
    assert sessions(["another-key-0123456789abcdef"]).check(token) is None


def test_the_csrf_token_belongs_to_its_session() -> None:
    made = sessions()
    assert made.csrf_ok("s1", made.csrf("s1"))
    assert not made.csrf_ok("s2", made.csrf("s1"))
    assert not made.csrf_ok("s1", "")
    assert not made.csrf_ok("s1", None)
