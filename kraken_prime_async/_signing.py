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


#: SHA-512's block size: HMAC pads (or first hashes) the key to this length (RFC 2104).
_BLOCK = 128
#: ``bytes.translate`` tables XOR-ing every byte with HMAC's inner and outer pads.
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_sha256 = hashlib.sha256
_b2a_base64 = binascii.b2a_base64


class Signer:
    """Sign request bodies with one decoded secret.

    HMAC-SHA512 is keyed once, here: the two SHA-512 states that have absorbed the padded key
    (RFC 2104's inner and outer pads) are kept, and each request copies them and adds its own
    bytes. That is the computation ``hmac.new(key, message, "sha512")`` makes (the tests check
    it against ``hmac`` for keys of every length), without keying HMAC again, without the
    pure-Python ``hmac.HMAC`` wrapper per request, and with one-shot SHA-256 and base64 calls.
    The states hold only the key's hash input; ``repr`` shows nothing of them.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha512(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha512(key.translate(_IPAD))
        self._outer = hashlib.sha512(key.translate(_OPAD))

    def sign(self, uri_path: bytes, nonce: int, body: bytes) -> str:
        """Return the base64 ``API-Sign`` for ``body`` sent to ``uri_path`` with ``nonce``."""
        inner = self._inner.copy()
        inner.update(uri_path + _sha256(b"%d%b" % (nonce, body)).digest())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return _b2a_base64(outer.digest(), newline=False).decode("ascii")

    def __repr__(self) -> str:
        return "Signer(<hidden>)"


def sign(uri_path: str, nonce: int, body: bytes, secret: str) -> str:
    """One-shot signature, as in Kraken's reference implementation (base64 secret)."""
    return Signer(decode_secret(secret)).sign(uri_path.encode("ascii"), nonce, body)


def verify(uri_path: bytes, nonce: int, body: bytes, key: bytes, signature: str) -> bool:
    """Constant-time check of ``signature`` (used by the sandbox)."""
    expected = Signer(key).sign(uri_path, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))
