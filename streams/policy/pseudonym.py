"""Keyed pseudonyms of recipients (issue 15 §2): verdicts and violations name whom they concern
without carrying the address, so a complaint can be matched to them without spreading addresses.

`kid:` + 26 lower-case base32 characters of HMAC-SHA256(key, normalized address)[:16]. The input
is the normalized address alone (the Kafka key), so one person's sms, voice and whatsapp share
one pseudonym, as they share one state. Keyed, not a plain hash: phone numbers are few enough to
hash them all, so without the key a pseudonym would be an address.

Rotation: put a new key first (`new:...,old:...`). New verdicts carry the new kid; older ones
keep theirs, and `refs()` gives the pseudonyms under every key, which is what the audit tool
matches. Drop an old key only once nothing it signed needs matching. Pure: no environment, no
files (streams.runtime.ledger finds the keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Any, Final

REF_BYTES: Final = 16
# Pseudonyms of recent addresses: an intent needs them twice (the erasure check, issue 15 §6, then
# its verdict's recipient_ref), and a pseudonym costs about 2.5 µs alone, 10 in the worker.
CACHE_ENTRIES: Final = 16384
MIN_KEY_BYTES: Final = 16
_KID: Final = re.compile(r"[A-Za-z0-9_.-]{1,32}")
# HMAC by hand (RFC 2104) from SHA-256 states prepared once per key, and base32 by table: a
# pseudonym in about 2.5 µs rather than 4.9 (hmac.digest, base64.b32encode). `pseudonym` below
# is the plain definition; the tests hold the two equal.
_BLOCK: Final = 64  # SHA-256's block size, RFC 2104's B
_INNER_PAD: Final = bytes(b ^ 0x36 for b in range(256))  # translate tables: XOR each key byte
_OUTER_PAD: Final = bytes(b ^ 0x5C for b in range(256))
_BASE32: Final = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648's alphabet, lower case
_BASE32_PAIRS: Final = tuple(a + b for a in _BASE32 for b in _BASE32)  # 10 bits each
_PAIR_SHIFTS: Final = tuple(range(120, -1, -10))  # 128 bits and 2 of padding: 26 characters


class Pseudonyms:
    """The keys in force, first one current. Refuses an empty list (no key, no pseudonym)."""

    __slots__ = ("_cache", "_keys", "_signers", "kids")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one pseudonym key is needed")
        for kid, key in keys:
            if not _KID.fullmatch(kid):
                raise ValueError(f"pseudonym key id {kid[:40]!r} is not 1-32 of A-Z a-z 0-9 _ . -")
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(
                    f"pseudonym key {kid!r} has {len(key)} bytes, under {MIN_KEY_BYTES}"
                )
        kids = [kid for kid, _ in keys]
        if len(set(kids)) != len(kids):
            raise ValueError("pseudonym key ids must differ")
        self._keys = tuple((kid, bytes(key)) for kid, key in keys)
        self._signers = tuple((kid + ":", *_prepared(key)) for kid, key in self._keys)
        self.kids = tuple(kids)
        self._cache: dict[str, tuple[str, ...]] = {}

    def ref(self, address: str) -> str:
        """The pseudonym of a normalized address under the current key."""
        return self.refs(address)[0]

    def refs(self, address: str) -> tuple[str, ...]:
        """Its pseudonyms under every key (current first): what an audit matches."""
        found = self._cache.get(address)
        if found is None:
            data = address.encode("utf-8", "surrogatepass")
            found = tuple(_signed(data, *signer) for signer in self._signers)
            if len(self._cache) >= CACHE_ENTRIES:  # bounded: start again rather than evict
                self._cache.clear()
            self._cache[address] = found
        return found


def _prepared(key: bytes) -> tuple[Any, Any]:
    """SHA-256 after HMAC's inner and outer padded keys: every pseudonym copies them."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(padded.translate(_INNER_PAD))
    return inner, hashlib.sha256(padded.translate(_OUTER_PAD))


def _signed(data: bytes, prefix: str, inner: Any, outer: Any) -> str:
    """`pseudonym`, from prepared states (`_prepared`); `prefix` is `kid:`."""
    digest = inner.copy()
    digest.update(data)
    mac = outer.copy()
    mac.update(digest.digest())
    bits = int.from_bytes(mac.digest()[:REF_BYTES], "big") << 2
    return prefix + "".join([_BASE32_PAIRS[(bits >> shift) & 1023] for shift in _PAIR_SHIFTS])


def pseudonym(kid: str, key: bytes, address: str) -> str:
    digest = hmac.digest(key, address.encode("utf-8", "surrogatepass"), "sha256")[:REF_BYTES]
    return f"{kid}:{base64.b32encode(digest).decode().rstrip('=').lower()}"


def parse_keys(text: str) -> list[tuple[str, bytes]]:
    """`kid:base64key[,kid:base64key...]` (standard or URL-safe base64) → [(kid, key)]."""
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not encoded:
            raise ValueError(f"pseudonym key {kid[:32]!r} is not kid:base64key")
        try:
            key = base64.b64decode(
                encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4),
                validate=True,
            )
        except (binascii.Error, ValueError):
            raise ValueError(f"pseudonym key {kid[:32]!r}: the key is not base64") from None
        keys.append((kid.strip(), key))
    return keys
