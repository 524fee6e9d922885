"""Signed, expiring, rotatable link tokens: `<kid>.<itsdangerous token>`.

itsdangerous signs (HMAC-SHA256, timestamped) and checks the age; the key id in front picks the
verifying key, so a retired key is simply removed from the list and a rotated one still verifies
links already mailed. The recipient's address is AES-GCM encrypted inside the payload (key derived
from the same secret by HKDF): a link that proxies, scanners and analytics log carries no address,
not even base64-readable.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class TokenError(ValueError):
    """A token that must not be acted on; `reason` is `forged` or `expired`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a link stands for: who (`address` on `channel`), which sender party, where."""

    address: str
    channel: str
    party: str | None
    jurisdiction: str
    lang: str | None = None
    extra: Mapping[str, str] | None = None  # e.g. the grant a confirmation link confirms


def parse_keys(raw: str) -> list[tuple[str, bytes]]:
    """`kid:secret,kid:secret` → [(kid, secret)], first one signing. Raises ValueError on a bad
    entry, a duplicate kid or a secret shorter than 16 bytes (too guessable to sign with)."""
    keys: list[tuple[str, bytes]] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, secret = part.partition(":")
        if not sep or not _KID.match(kid):
            raise ValueError("each key is kid:secret with a kid of letters, digits, - or _")
        if len(secret.encode()) < 16:
            raise ValueError(f"key {kid}: secret shorter than 16 bytes")
        if any(kid == known for known, _ in keys):
            raise ValueError(f"key id {kid} given twice")
        keys.append((kid, secret.encode()))
    return keys


class LinkTokens:
    """Issues and verifies one kind of link token (`purpose` salts it: an unsubscribe token is no
    confirmation token). `clock` returns Unix seconds; tests move it to expire tokens."""

    def __init__(
        self,
        keys: list[tuple[str, bytes]],
        purpose: str,
        max_age_s: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("no signing keys")
        self._signing_kid = keys[0][0]
        self._max_age = max_age_s
        self._purpose = purpose
        signer = _clocked_signer(clock)
        self._serializers = {
            kid: URLSafeTimedSerializer(
                secret,
                salt=f"consentgate.{purpose}",
                signer=signer,
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            for kid, secret in keys
        }
        self._ciphers = {kid: AESGCM(_derive(secret, purpose)) for kid, secret in keys}

    def issue(self, claims: LinkClaims) -> str:
        kid = self._signing_kid
        nonce = os.urandom(12)
        sealed = nonce + self._ciphers[kid].encrypt(nonce, claims.address.encode(), kid.encode())
        payload: dict[str, Any] = {
            "a": base64.urlsafe_b64encode(sealed).decode().rstrip("="),
            "c": claims.channel,
            "p": claims.party,
            "j": claims.jurisdiction,
        }
        if claims.lang:
            payload["l"] = claims.lang
        if claims.extra:
            payload["x"] = dict(claims.extra)
        return f"{kid}.{self._serializers[kid].dumps(payload)}"

    def verify(self, token: str) -> LinkClaims:
        """The claims of a genuine, unexpired token; TokenError otherwise (unknown key ids and
        tampered tokens are `forged`)."""
        kid, _, rest = token.partition(".")
        serializer = self._serializers.get(kid)
        if serializer is None or not rest:
            raise TokenError("forged")
        try:
            payload = serializer.loads(rest, max_age=int(self._max_age))
        except SignatureExpired:
            raise TokenError("expired") from None
        except BadSignature:
            raise TokenError("forged") from None
        try:
            sealed = base64.urlsafe_b64decode(payload["a"] + "=" * (-len(payload["a"]) % 4))
            address = self._ciphers[kid].decrypt(sealed[:12], sealed[12:], kid.encode()).decode()
            extra = payload.get("x")
            return LinkClaims(
                address=address,
                channel=str(payload["c"]),
                party=None if payload["p"] is None else str(payload["p"]),
                jurisdiction=str(payload["j"]),
                lang=payload.get("l"),
                extra={str(k): str(v) for k, v in extra.items()} if extra else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError, InvalidTag):
            raise TokenError("forged") from None  # signed by us, yet not ours: never act on it


def _derive(secret: bytes, purpose: str) -> bytes:
    hkdf = HKDF(hashes.SHA256(), 32, salt=None, info=f"consentgate {purpose} address".encode())
    return hkdf.derive(secret)


def _clocked_signer(clock: Callable[[], float]) -> type[TimestampSigner]:
    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return _Signer
