"""Connector metrics on an injectable registry. Labels are bounded: connector names and outcome
words from this module, never an address, a token or a provider id."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

CONNECTORS = ("unsubscribe", "sms", "sendgrid", "consent")
OUTCOMES = (
    "recorded",  # records published and acknowledged
    "shown",  # a page shown, nothing changed (GET/HEAD)
    "invalid_token",  # forged or unknown key id
    "expired_token",
    "bad_signature",
    "bad_request",
    "unauthorized",
    "publish_failed",  # the broker did not acknowledge: answered 503
    "ignored",  # a valid request that asks for nothing (an SMS that is no keyword, an open event)
    "help",
    "bounce",  # counted, not a consent event
)
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "consentgate_connector_requests",
            "Connector requests (SendGrid: events) by connector and outcome.",
            ["connector", "outcome"],
            registry=self.registry,
        )
        self.records = Counter(
            "consentgate_connector_records",
            "Records acknowledged by the broker, by connector and record type.",
            ["connector", "type"],
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "consentgate_connector_publish_seconds",
            "From handing records to the producer to the broker's acknowledgement.",
            ["connector"],
            buckets=PUBLISH_BUCKETS,
            registry=self.registry,
        )

    def count(self, connector: str, outcome: str, amount: int = 1) -> None:
        assert connector in CONNECTORS and outcome in OUTCOMES, (connector, outcome)
        self.requests.labels(connector, outcome).inc(amount)

    def value(self, connector: str, outcome: str) -> float:
        """The current count (for tests and the demo)."""
        got = self.registry.get_sample_value(
            "consentgate_connector_requests_total", {"connector": connector, "outcome": outcome}
        )
        return got or 0.0
