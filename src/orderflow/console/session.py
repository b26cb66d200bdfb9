"""Console sessions: an API key exchanged for a signed, expiring cookie; CSRF tokens.

A session is ``<id>.<expires>.<signature>``: HMAC-SHA256 with a secret derived from the API
keys (so changing the keys ends every session), so no server-side store is needed and the
key itself never sits in the browser. Every state-changing request carries a CSRF
token derived from the session (a hidden form field), compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

#: The session cookie, and the cookie guarding the login form before a session exists.
COOKIE = "orderflow_session"
LOGIN_COOKIE = "orderflow_login"
#: How long a session lasts.
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Session:
    """A logged-in browser."""

    id: str
    expires: int


class Sessions:
    """Makes and checks session tokens and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, lifetime: int = SESSION_SECONDS) -> None:
        self._secret = secret
        self.lifetime = lifetime
        #: Sessions signed out before they expired (this process; they expire anyway).
        self._ended: set[str] = set()

    def end(self, session_id: str) -> None:
        """Sign a session out: its token is refused from now on."""
        self._ended.add(session_id)

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def new(self, now: float | None = None) -> str:
        """A fresh session token."""
        expires = int((now or time.time()) + self.lifetime)
        body = f"{secrets.token_urlsafe(18)}.{expires}"
        return f"{body}.{self._sign(body)}"

    def check(self, token: str | None, now: float | None = None) -> Session | None:
        """The session ``token`` stands for, or None (missing, forged or expired)."""
        if not token or token.count(".") != 2:
            return None
        session_id, expires, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{session_id}.{expires}")):
            return None
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        if session_id in self._ended:
            return None
        return Session(id=session_id, expires=int(expires))

    def csrf(self, session_id: str) -> str:
        """The CSRF token of a session (or of a login form's nonce)."""
        return self._sign(f"csrf:{session_id}")

    def csrf_ok(self, session_id: str, presented: str | None) -> bool:
        """True when ``presented`` is the session's CSRF token."""
        return bool(presented) and hmac.compare_digest(str(presented), self.csrf(session_id))
