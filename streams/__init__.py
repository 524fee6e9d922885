"""consentgate: an event-driven compliance gate for outbound messages on Apache Kafka."""

__version__ = "0.1.0"
