"""The demo's unsubscribe link: the HTTP connectors as a child process, and one watched recipient.

`consentgate demo` runs `consentgate connectors` with a key made for the run (random, passed to the
child in its environment only: never printed, never logged), prints a working unsubscribe link for
one recipient with confirmed first-party email consent, and sends that recipient a promotional mail
every second, so whoever opens the link and clicks sees the next verdicts turn `OPTED_OUT`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.devtools.ports import free_port
from streams.devtools.workload import FIRST_PARTY, Clock, Recipient
from streams.settings import Settings, environment_of

KEY_ID = "demo"


class ConnectorsFailed(RuntimeError):
    """The connectors exited or never answered /live; the message carries their log's tail."""


def with_connectors(settings: Settings) -> Settings:
    """`settings` plus the connectors on a free loopback port, signing with a key of this run."""
    port = free_port()
    return settings.replace(
        connector_bind="127.0.0.1",
        connector_port=port,
        public_url=f"http://127.0.0.1:{port}",
        unsubscribe_keys=f"{KEY_ID}:{secrets.token_urlsafe(32)}",
    )


@dataclass
class ConnectorsProcess:
    """`python -m streams connectors` with exactly these settings, its output in `log_path`."""

    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.connector_bind}:{self.settings.connector_port}"

    def start(self, timeout: float = 60.0) -> ConnectorsProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams", "connectors"],
                env={**os.environ, **environment_of(self.settings)},  # secrets: never log
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops this in order
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConnectorsFailed(f"the connectors exited:\n{self.log_tail()}")
            if self.live():
                return self
            time.sleep(0.2)
        self.stop()
        raise ConnectorsFailed(f"the connectors never answered /live:\n{self.log_tail()}")

    def live(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/live", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def watched_recipient(state: Iterable[dict[str, Any]], party: str = FIRST_PARTY) -> Recipient:
    """The first email recipient, in record order, with a grant and a confirm for `party` and no
    opt-out: one the gate allows promotional mail from `party` until the link is clicked."""
    granted: dict[str, Recipient] = {}
    confirmed: set[str] = set()
    opted_out: set[str] = set()
    for record in state:
        if record.get("type") == "optout":
            opted_out.add(record["address"])
        if record.get("type") != "consent" or record["channel"] != "email":
            continue
        if record["party"] != party:
            continue
        if record["action"] == "grant":
            granted.setdefault(
                record["address"], Recipient("email", record["address"], record["jurisdiction"])
            )
        elif record["address"] in granted:
            confirmed.add(record["address"])
    for address, recipient in granted.items():
        if address in confirmed and address not in opted_out:
            return recipient
    raise ValueError(f"no email recipient with confirmed consent for {party} in the workload")


def unsubscribe_link(settings: Settings, recipient: Recipient, party: str = FIRST_PARTY) -> str:
    """The link a mail from `party` to `recipient` carries, signed with the run's key."""
    from connectors.http.context import UNSUBSCRIBE_PURPOSE
    from connectors.http.tokens import LinkClaims, LinkTokens, parse_keys
    from connectors.http.unsubscribe import unsubscribe_url

    tokens = LinkTokens(
        parse_keys(settings.unsubscribe_keys),
        UNSUBSCRIBE_PURPOSE,
        settings.unsubscribe_max_age.total_seconds(),
    )
    claims = LinkClaims(recipient.address, recipient.channel, party, recipient.jurisdiction)
    return unsubscribe_url(tokens, settings.public_url, claims)


@dataclass
class Watch:
    """The watched recipient: its link, the intents sent to it, and the last verdict read back.
    `seen` runs on the verdict reader's thread, `line` on the demo's."""

    recipient: Recipient
    link: str
    id_prefix: str
    party: str = FIRST_PARTY
    sent: int = 0
    last: tuple[str, str, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def intent(self, clock: Clock) -> dict[str, Any]:
        """The next promotional mail, with the unsubscribe link in its body (no MISSING_OPT_OUT)."""
        self.sent += 1
        return {
            "type": "intent",
            "id": f"{self.id_prefix}{self.sent}",
            "at": clock.tick(1),
            "channel": self.recipient.channel,
            "address": self.recipient.address,
            "sender": self.party,
            "jurisdiction": self.recipient.jurisdiction,
            "category": "promotional",
            "has_opt_out": True,
            "campaign": "demo-watched",
            "body": f"Autumn sale: 20% off everything this week. Unsubscribe: {self.link}",
        }

    def seen(self, verdict: dict[str, Any]) -> bool:
        """Keeps the verdict if it is one of ours; True then."""
        if not str(verdict.get("id", "")).startswith(self.id_prefix):
            return False
        at = _clock_time(verdict.get("decided_at"))
        with self._lock:
            self.last = (verdict["decision"], verdict["reason"], at)
        return True

    def line(self) -> str:
        with self._lock:
            last = self.last
        shown = f"{last[0]}/{last[1]} at {last[2]}" if last else "none yet"
        return f"watched recipient: last verdict {shown}  ({self.sent} sent)"


def _clock_time(value: Any) -> str:
    """A verdict's decided_at (datetime or epoch milliseconds) as local HH:MM:SS."""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, datetime):
        return value.astimezone().strftime("%H:%M:%S")
    return time.strftime("%H:%M:%S")
