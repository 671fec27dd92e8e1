"""Kraken's ``API-Sign``: HMAC-SHA512 over ``path + SHA256(nonce + body)``.

The same function serves the client (signing) and the sandbox (verifying), so the two cannot drift.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal

SecretEncoding = Literal["base64", "raw"]


def decode_secret(secret: str, *, encoding: SecretEncoding = "base64") -> bytes:
    """Turn an API secret into HMAC key bytes.

    Raises
    ------
    ValueError
        If ``secret`` is empty or, with ``encoding="base64"``, not strict base64. The message
        never contains the secret.
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("must be a non-empty string")
    if encoding == "raw":
        return secret.encode("utf-8")
    if encoding != "base64":
        raise ValueError("secret_encoding must be 'base64' or 'raw'")
    try:
        key = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "is not valid base64 (Kraken secrets are base64; "
            "pass secret_encoding='raw' only if you know the key is not)"
        ) from None
    if not key:
        raise ValueError("decodes to zero bytes")
    return key


class Signer:
    """Sign request bodies with one decoded secret.

    The HMAC state keyed with the secret is built once and copied per request.
    """

    __slots__ = ("_mac",)

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha512)

    def sign(self, uri_path: bytes, nonce: int, body: bytes) -> str:
        """Return the base64 ``API-Sign`` for ``body`` sent to ``uri_path`` with ``nonce``."""
        inner = hashlib.sha256(b"%d" % nonce + body).digest()
        mac = self._mac.copy()
        mac.update(uri_path + inner)
        return base64.b64encode(mac.digest()).decode("ascii")

    def __repr__(self) -> str:
        return "Signer(<hidden>)"


def sign(uri_path: str, nonce: int, body: bytes, secret: str) -> str:
    """One-shot signature, as in Kraken's reference implementation (base64 secret)."""
    return Signer(decode_secret(secret)).sign(uri_path.encode("ascii"), nonce, body)


def verify(uri_path: bytes, nonce: int, body: bytes, key: bytes, signature: str) -> bool:
    """Constant-time check of ``signature`` (used by the sandbox)."""
    expected = Signer(key).sign(uri_path, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))
