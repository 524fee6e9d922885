"""What the decision core raises when input cannot be trusted. Callers dead-letter, never guess.

Messages quote input only through `excerpt`: at most EXCERPT_CHARS characters, escaped, so a
verdict's `detail` or a dead letter never carries a whole oversized field, a control character
or a bidi override that would reorder what an operator reads."""

from __future__ import annotations

from typing import Final

EXCERPT_CHARS: Final = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """`repr` of `value` cut to `limit` characters (plus `...`), every non-ASCII or invisible
    character escaped (`ascii()`), so the text is printable and its length is bounded."""
    if isinstance(value, str) and len(value) > limit:
        return ascii(value[:limit]) + f"...({len(value)} chars)"
    text = ascii(value)
    return text if len(text) <= 2 * limit else text[: 2 * limit] + "..."


class RecordError(ValueError):
    """Input the gate cannot check. The message says which field and what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAddress(RecordError):
    """An address that does not normalize for its channel."""


class InvalidRecord(RecordError):
    """A record that breaks the contract. `record_id` is set whenever the id itself was readable,
    so an invalid intent can still be denied under its own id."""

    def __init__(self, message: str, record_id: str | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.kind = kind

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[InvalidRecord], tuple[str, str | None, str | None]]:
        return (InvalidRecord, (self.message, self.record_id, self.kind))
