"""API-key authentication: ``Authorization: Bearer <key>``, keys from configuration.

Decisions (RFC 6750): a missing, malformed *or* wrong key is ``401 Unauthorized`` with a
``WWW-Authenticate: Bearer`` challenge (``error="invalid_token"`` when a key was sent but
is not accepted); 403 is not used because a key, once accepted, may do everything.
Keys are compared as SHA-256 digests with :func:`hmac.compare_digest` against *every*
configured key, so neither the position of a match nor a key's length shows in timing.
Neither keys nor the presented token are ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from fastapi import HTTPException

log = logging.getLogger("orderflow.api")

#: Shorter keys are refused at start-up: they can be guessed.
MIN_KEY_LENGTH = 16


class ApiConfigError(ValueError):
    """The API cannot start as configured (for instance: no API keys)."""


def parse_api_keys(raw: str) -> list[str]:
    """Keys from the comma-separated ``ORDERFLOW_API_KEYS`` value (blanks ignored).

    Raises:
        ApiConfigError: a key is shorter than :data:`MIN_KEY_LENGTH` characters.
    """
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    for index, key in enumerate(keys):
        if len(key) < MIN_KEY_LENGTH:
            raise ApiConfigError(
                f"ORDERFLOW_API_KEYS: key #{index + 1} is shorter than {MIN_KEY_LENGTH} "
                "characters; use long random keys (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
    return keys


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class Unauthorized(HTTPException):
    """401 with the Bearer challenge; answered as problem+json."""

    problem_kind = "unauthorized"

    def __init__(self, detail: str, *, invalid_token: bool) -> None:
        challenge = 'Bearer realm="orderflow"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})


class ApiKeys:
    """The accepted keys, kept only as digests; ``enforced=False`` lets every request in."""

    def __init__(self, keys: list[str], *, enforced: bool = True) -> None:
        self._digests = [_digest(key) for key in keys]
        self.enforced = enforced
        self._random: bytes | None = None

    def __len__(self) -> int:
        return len(self._digests)

    def secret(self, purpose: str) -> bytes:
        """A secret derived from all the keys (for signing console sessions): it changes,
        and so ends every session, when the keys change. Random per process without keys."""
        if not self._digests:
            if self._random is None:
                self._random = secrets.token_bytes(32)
            return self._random
        material = b"".join(sorted(self._digests))
        return hmac.new(material, f"orderflow:{purpose}".encode(), hashlib.sha256).digest()

    def accepts(self, token: str) -> bool:
        """True if ``token`` is one of the keys; constant time over all of them."""
        presented = _digest(token)
        matched = False
        for digest in self._digests:
            # No short-circuit: every key is compared whatever the outcome.
            matched |= hmac.compare_digest(presented, digest)
        return matched

    def check(self, authorization: str | None) -> None:
        """Accept the request or raise :class:`Unauthorized`.

        Args:
            authorization: the raw ``Authorization`` header, if any.
        """
        if not self.enforced:
            return
        if not authorization:
            raise Unauthorized(
                "an API key is required: Authorization: Bearer <key>", invalid_token=False
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "the Authorization header must be 'Bearer <key>'", invalid_token=False
            )
        if not self.accepts(token):
            log.warning("request refused: API key not accepted")
            raise Unauthorized("the API key is not accepted", invalid_token=True)
