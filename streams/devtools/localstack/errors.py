"""The one error type of the local stack.

Its message is meant to be shown to a person as it is, on one line (plus, for a process that died,
the tail of its log), so every raise site says what went wrong and what to do about it.
"""

from __future__ import annotations


class StackError(RuntimeError):
    """The local stack cannot be brought up, or down, and the message says why."""
