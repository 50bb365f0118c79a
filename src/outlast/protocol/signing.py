"""Signing keys: request signatures (server -> app) and Bearer auth (app -> server)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import parse_qs

_PREFIX = re.compile(r"^signkey-\w+-")

#: How far a signature's timestamp may be from now (the JS SDK's own limit).
MAX_SKEW_SECONDS = 300


class SignatureError(Exception):
    """A missing, malformed, stale or wrong request signature."""


def strip_prefix(key: str) -> str:
    return _PREFIX.sub("", key)


def hash_key(key: str) -> str:
    """The Bearer form of a signing key: sha256 hex of the hex-decoded key (prefix kept)."""
    m = _PREFIX.match(key)
    prefix = m.group(0) if m else ""
    body = strip_prefix(key)
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raw = _utf8(body)
    return prefix + hashlib.sha256(raw).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that, unlike ``hmac.compare_digest`` on ``str``, also
    accepts non-ASCII input (a header or URL can carry anything)."""
    return hmac.compare_digest(_utf8(given), _utf8(expected))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def bearer_matches(token: str, signing_keys: list[str]) -> bool:
    """True when ``token`` is one of the keys, plain or hashed, with or without its prefix."""
    t = strip_prefix(token.strip())
    for key in signing_keys:
        plain = strip_prefix(key)
        hashed = strip_prefix(hash_key(key))
        if same_secret(t, plain) or same_secret(t, hashed):
            return True
    return False


def _mac(body: bytes, key: str, ts: int) -> str:
    mac = hmac.new(strip_prefix(key).encode(), body, hashlib.sha256)
    mac.update(str(ts).encode())
    return mac.hexdigest()


def sign(body: bytes, key: str, ts: int | None = None) -> str:
    """The ``X-Inngest-Signature`` value for ``body``: ``t=<unix secs>&s=<hex hmac>``."""
    if ts is None:
        ts = int(time.time())
    return f"t={ts}&s={_mac(body, key, ts)}"


def verify(body: bytes, header: str | None, keys: list[str], now: float | None = None) -> None:
    """Raise SignatureError unless ``header`` signs ``body`` with one of ``keys``."""
    if not header:
        raise SignatureError("missing X-Inngest-Signature header")
    parsed = parse_qs(header)
    try:
        ts = int(parsed["t"][0])
        sig = parsed["s"][0]
    except (KeyError, ValueError, IndexError) as exc:
        raise SignatureError("malformed X-Inngest-Signature header") from exc
    current = time.time() if now is None else now
    if abs(current - ts) > MAX_SKEW_SECONDS:
        raise SignatureError("signature timestamp is too old or in the future")
    for key in keys:
        if same_secret(sig, _mac(body, key, ts)):
            return
    raise SignatureError("signature does not match")
