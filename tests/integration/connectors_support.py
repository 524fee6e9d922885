"""Shared by the connectors' integration and browser tests: their settings, keys, and the
`consentgate connectors` command run as a real process."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.http.context import CONFIRM_PURPOSE, UNSUBSCRIBE_PURPOSE
from connectors.http.tokens import LinkTokens, parse_keys
from streams.devtools.ports import free_port
from streams.devtools.runner import worker_env
from streams.settings import Settings

KEYS = "it2:integration-secret-0002,it1:integration-secret-0001"
SITE_KEY = "integration-site-key"
TWILIO_TOKEN = "integration-twilio-token"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def connector_settings(base: Settings, **changes: Any) -> Settings:
    """`base` (a test's topics) with every connector on, on a free port of its own."""
    port = free_port()
    settings: Settings = base.replace(
        connector_port=port,
        public_url=f"http://127.0.0.1:{port}",
        unsubscribe_keys=KEYS,
        consent_api_keys=SITE_KEY,
        twilio_auth_token=TWILIO_TOKEN,
        sendgrid_public_key=SENDGRID_PUBLIC,
    )
    return settings.replace(**changes)


def unsubscribe_tokens(settings: Settings) -> LinkTokens:
    return LinkTokens(
        parse_keys(settings.unsubscribe_keys),
        UNSUBSCRIBE_PURPOSE,
        settings.unsubscribe_max_age.total_seconds(),
    )


def confirm_tokens(settings: Settings) -> LinkTokens:
    return LinkTokens(
        parse_keys(settings.unsubscribe_keys),
        CONFIRM_PURPOSE,
        settings.confirm_max_age.total_seconds(),
    )


class ConnectorsProcess:
    """`consentgate connectors` with these settings, until `stop()`; its output in `log_path`."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{settings.connector_port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ConnectorsProcess:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "streams", "connectors"],
                env=worker_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"consentgate connectors exited:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/live", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"consentgate connectors never answered:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
