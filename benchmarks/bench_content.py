"""Content detection on hostile 1 MB bodies: every decision must take <= 50 ms.

Run: .venv/bin/pytest benchmarks/bench_content.py --benchmark-enable
Each adversarial body (about 1 MB: near-matches nested and repeated, long runs of digits, letters
and percent signs, huge HTML, character references, mixed scripts, a promotion hidden at byte
900,000) goes through the whole decide() of a transactional intent (promotional-content rule) and
of a promotional email and sms (opt-out grammar). The report prints the slowest single decision
per body and asserts the 50 ms bound there, in the benchmark, not in the unit tests.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide
from streams.policy.records import SendIntent

CONFIG = PolicyConfig()
NOW = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
MB = 1 << 20
BOUND_MS = 50.0
HIDDEN = "Use code SAVE20 for 20% off your next order."


def _fill(unit: str, size: int = MB) -> str:
    """`unit` repeated to at most `size` bytes of UTF-8."""
    return unit * (size // len(unit.encode()))


def _hidden(unit: str) -> str:
    """`unit` repeated to ~1 MB with a promotion at byte 900,000."""
    return _fill(unit, 900_000) + " " + HIDDEN + " " + _fill(unit, MB - 900_000 - 60)


BODIES: dict[str, str] = {
    "digits": _fill("9"),
    "letters": _fill("a"),
    "percent signs": _fill("%"),
    "digits and percent": _fill("9%"),
    "near percent-off": _fill("20% of "),
    "near use-code": _fill("use code AB12CD to verify "),
    "nested near-matches": _fill("save save up to up to over $ 9 "),
    "near sale words": _fill("summer summer sale sale sal "),
    "opt-out near-misses": _fill("you cannot unsubscribe. don't stop now. reply "),
    "spaces": _fill(" "),
    "newlines and tabs": _fill("\n\t"),
    "huge html": _fill("<td class='x'><b>dis</b>count</td>"),
    "unclosed tags": _fill("<a href='"),
    "tag soup": _fill("<<>><"),
    "html comments": _fill("<!-- -- -->"),
    "numeric references": _fill("&#100;"),
    "named references": _fill("&amp;"),
    "urls": _fill("https://e.com/sale?u=%41%42 "),
    "percent escapes": _fill("%4"),
    "zero-width": _fill("d\u200bi\u200bs "),
    "cyrillic lookalikes": _fill("\u0441\u043e\u0443\u0440\u043en "),
    "devanagari": _fill("छूट ऑफर "),
    "arabic with tatweel": _fill("خـــصـم "),
    "emoji": _fill("\U0001f389"),
    "combining marks": _fill("a\u0336"),
    "promotion hidden at 900 KB": _hidden("Your order 5512 has shipped. "),
    "promotion hidden in html": _hidden("<p>" + "Your order 5512 has shipped. " * 60 + "</p>"),
    "promotion hidden in hindi": _hidden("आपका ऑर्डर भेज दिया गया है। "),
}


def _intent(body: str, *, category: str, channel: str) -> SendIntent:
    address = "alice@example.com" if channel == "email" else "+14155550101"
    return SendIntent(
        id="m1", at=NOW, channel=channel, address=address, sender="company",
        category=category, has_opt_out=True, jurisdiction="US", body=body,
    )  # fmt: skip


KINDS = (("transactional", "sms"), ("promotional", "email"), ("promotional", "sms"))


WARM_UP = (
    "Your order shipped. 20% off! Reply STOP",
    "Soldes -30 % sur tout. Ihre Bestellung. Saldi. Rebajas. Unsubscribe: https://e.com/u",
    "दिवाली सेल! 40% की छूट। STOP लिखकर भेजें",
    "عروض العيد: خصم 30%. أرسل STOP",
    "\u0441\u043e\u0443\u0440\u043en d\u200bis\u0336 \U0001f389",
)


def _warm_up() -> None:
    """A running gate's RE2 automata are warm (they are built lazily, bounded by max_mem); warm
    them on a few short bodies in every script, as traffic would."""
    for body in WARM_UP:
        _slowest(body)


def _slowest(body: str) -> tuple[float, list[str]]:
    worst = 0.0
    reasons = []
    for category, channel in KINDS:
        intent = _intent(body, category=category, channel=channel)
        start = time.perf_counter()
        verdict = decide(intent, None, None, CONFIG, now=NOW).verdict
        worst = max(worst, (time.perf_counter() - start) * 1000)
        reasons.append(verdict.reason)
        assert verdict.detail is None or len(verdict.detail) < 400
    return worst, reasons


@pytest.mark.parametrize("name", list(BODIES))
def test_adversarial_body(benchmark: Any, name: str) -> None:
    body = BODIES[name]
    _warm_up()
    runs: list[tuple[float, list[str]]] = []
    benchmark.pedantic(lambda: runs.append(_slowest(body)), rounds=3, iterations=1)
    worst = max(ms for ms, _ in runs)  # every round counts, the first (coldest) too
    reasons = runs[0][1]
    if name.startswith("promotion hidden"):
        assert reasons[0] == "PROMOTIONAL_CONTENT_NOT_ALLOWED"
    if benchmark.stats is not None:
        benchmark.extra_info["max_decision_ms"] = round(worst, 2)
        print(f"\n{name}: {len(body.encode()):,} bytes, slowest decision {worst:.1f} ms")
        assert worst <= BOUND_MS, f"{name}: {worst:.1f} ms > {BOUND_MS} ms"
