"""What a message says: promotional content, and whether it shows the way to opt out.

A package: normalize.py folds text as a reader sees it (HTML, Unicode lookalikes, invisible
characters, URL escapes), lexicon.py compiles the per-language lexicons (lexicons/*.toml, data)
for RE2, detect.py finds promotional signals in every field of an intent, mechanism.py reads the
opt-out instruction with a small grammar. Everything is linear in the text;
docs/content-detection.md explains the method and the corpus figures.
"""

from streams.policy.content.detect import (
    Finding,
    excerpt,
    find_in,
    find_promotion,
    promotional_match,
)
from streams.policy.content.mechanism import TEXT_CHANNELS, has_opt_out_mechanism, opt_out_form

__all__ = [
    "TEXT_CHANNELS",
    "Finding",
    "excerpt",
    "find_in",
    "find_promotion",
    "has_opt_out_mechanism",
    "opt_out_form",
    "promotional_match",
]
