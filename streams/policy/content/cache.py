"""A least-recently-used cache bounded by the bytes of text it keeps, not by its entry count.

Bodies repeat (one campaign, many recipients), so results are worth keeping; but a count-bounded
cache of 1 MB bodies could hold gigabytes. Keys are tuples of strings; only keys whose text fits
MAX_KEY_CHARS are kept, and the total is held under MAX_CHARS.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, Generic, TypeVar

MAX_CHARS: Final = 1 << 20  # per cache: at most 4 MiB of text (a str holds <= 4 bytes a char)
MAX_KEY_CHARS: Final = 4096  # longer texts are decided afresh every time

K = TypeVar("K", bound=tuple[str, ...])
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, max_chars: int = MAX_CHARS, max_key_chars: int = MAX_KEY_CHARS) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._chars = 0
        self._max = max_chars
        self._max_key = max_key_chars

    @staticmethod
    def _size(key: K) -> int:
        return sum(len(part) for part in key)

    @property
    def chars(self) -> int:
        return self._chars

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> tuple[bool, V | None]:
        try:
            value = self._entries[key]
        except KeyError:
            return False, None
        self._entries.move_to_end(key)
        return True, value

    def put(self, key: K, value: V) -> None:
        size = self._size(key)
        if size > self._max_key or key in self._entries:
            return
        self._entries[key] = value
        self._chars += size
        while self._chars > self._max:
            old, _ = self._entries.popitem(last=False)
            self._chars -= self._size(old)
