"""The one settings object: typed, frozen, read from the environment in one place.

Every field documents itself in its metadata (`env`, `doc`); `consentgate config` prints them and
`docs/configuration.md` is generated from them. No other module reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args, get_type_hints

from streams.policy.config import PolicyConfig


class SettingsError(ValueError):
    """A setting in the environment has a value its field cannot take."""


def _env(name: str, doc: str, **check: Any) -> dict[str, Any]:
    """Field metadata: the variable, its doc, and optionally `choices` (values, read in any
    case) or `bounds` (inclusive; seconds for durations) that a value must keep to."""
    return {"env": name, "doc": doc, **check}


_PORT = (1, 65535)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a consentgate process is configured with."""

    kafka_bootstrap_servers: str = field(
        default="127.0.0.1:9092",
        metadata=_env("KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers, host:port[,host:port]."),
    )
    schema_registry_url: str = field(
        default="http://127.0.0.1:8081/apis/ccompat/v7",
        metadata=_env("SCHEMA_REGISTRY_URL", "Confluent-compatible schema registry base URL."),
    )
    app_id: str = field(
        default="consentgate",
        metadata=_env(
            "CONSENTGATE_APP_ID",
            "Faust application id: the consumer group and the prefix of changelog topics.",
        ),
    )
    topic_prefix: str = field(
        default="",
        metadata=_env(
            "CONSENTGATE_TOPIC_PREFIX",
            "Prefix put before every topic name (lets several gates share one cluster).",
        ),
    )
    partitions: int = field(
        default=6,
        metadata=_env(
            "CONSENTGATE_PARTITIONS",
            "Partitions of the co-partitioned recipient topics when consentgate creates them.",
            bounds=(1, 10000),
        ),
    )
    replication_factor: int = field(
        default=1,
        metadata=_env(
            "CONSENTGATE_REPLICATION_FACTOR",
            "Replication factor of every topic consentgate creates, faust's changelog included.",
            bounds=(1, 16),
        ),
    )
    min_insync_replicas: int = field(
        default=1,
        metadata=_env(
            "CONSENTGATE_MIN_INSYNC_REPLICAS",
            "min.insync.replicas of every topic consentgate creates: with acks=all, a write is "
            "durable once this many replicas have it. At most the replication factor.",
            bounds=(1, 16),
        ),
    )
    data_dir: Path | None = field(
        default=None,
        metadata=_env(
            "CONSENTGATE_DATA_DIR",
            "Worker data directory (RocksDB tables). Empty: $XDG_STATE_HOME/consentgate/<app id>. "
            "A relative path is taken from the working directory at start-up. Two workers on one "
            "machine need two.",
        ),
    )
    state_home: Path | None = field(
        default=None,
        metadata=_env(
            "XDG_STATE_HOME",
            "Base of the default data directory (XDG base directories); empty: ~/.local/state.",
        ),
    )
    store: str = field(
        default="rocksdb://",
        metadata=_env(
            "CONSENTGATE_STORE",
            "Table store URL: rocksdb:// or memory://.",
            choices=("rocksdb://", "memory://"),
        ),
    )
    standby_replicas: int = field(
        default=0,
        metadata=_env(
            "CONSENTGATE_STANDBY_REPLICAS",
            "Standby copies of each table partition kept warm on other workers (faust's "
            "table_standby_replicas): with 1, a worker taking over a partition starts from a "
            "nearly current copy instead of replaying its changelog. Needs at least 2 workers.",
            bounds=(0, 16),
        ),
    )
    web_bind: str = field(
        default="127.0.0.1",
        metadata=_env("CONSENTGATE_WEB_BIND", "Address the worker's HTTP server (/metrics) binds."),
    )
    web_port: int = field(
        default=6066,
        metadata=_env(
            "CONSENTGATE_WEB_PORT", "Port of the worker's HTTP server (/metrics).", bounds=_PORT
        ),
    )
    ordering_max_wait: timedelta = field(
        default=timedelta(seconds=5),
        metadata=_env(
            "CONSENTGATE_ORDERING_MAX_WAIT_S",
            "Longest an intent is held for read-your-opt-outs before it is denied, in seconds.",
            bounds=(0, 3600),
        ),
    )
    session_timeout: timedelta = field(
        default=timedelta(seconds=60),
        metadata=_env(
            "CONSENTGATE_SESSION_TIMEOUT_S",
            "Consumer group session timeout, in seconds: how long a worker that died without "
            "leaving holds its partitions before another takes them over (the handover time). "
            "The broker bounds it (group.min/max.session.timeout.ms, 6 s to 30 min by default); "
            "heartbeats go every third of it, at most every 3 s.",
            bounds=(6, 1800),
        ),
    )
    output_linger: timedelta = field(
        default=timedelta(milliseconds=1),
        metadata=_env(
            "CONSENTGATE_OUTPUT_LINGER_S",
            "linger.ms of the worker's output producer, in seconds: how long librdkafka waits to "
            "fill a produce request. A verdict waits for it twice (its changelog records, then "
            "itself); librdkafka's own thread sends, so the event loop does not pay for it. "
            "1 ms against 5 ms, alone on the same code: opt-out to enforcement p50/p99 23/30 "
            "against 27/37 ms, CPU per verdict within the runs' noise (docs/performance.md).",
            bounds=(0, 1),
        ),
    )
    fetch_wait: timedelta = field(
        default=timedelta(milliseconds=50),
        metadata=_env(
            "CONSENTGATE_FETCH_WAIT_S",
            "fetch.max.wait.ms of the worker's consumer, in seconds: how long the broker may hold "
            "a fetch for CONSENTGATE_FETCH_MIN_BYTES to be ready. faust's own 1.5 s stalled a "
            "busy worker's intents for that long after a long batch (docs/performance.md, stop "
            "21); an idle worker sends a small fetch this often.",
            bounds=(0.001, 1.5),
        ),
    )
    fetch_min_bytes: int = field(
        default=1,
        metadata=_env(
            "CONSENTGATE_FETCH_MIN_BYTES",
            "fetch.min.bytes of the worker's consumer: the broker answers a fetch once this much "
            "is ready or CONSENTGATE_FETCH_WAIT_S has passed. 1 answers at the first record, the "
            "lowest latency; but every fetch names every assigned partition and costs the worker "
            "about a millisecond of Python, so a trickle makes a fetch per record or two: at 200 "
            "intents/s the bench's worker used 0.66-0.80 of a core. 1048576 with a 0.01 s wait: "
            "0.44-0.50 of a core at 200/s and 7% less CPU per intent at 1,731/s, for an opt-out "
            "enforced 1-3 ms later at the median; at full load it did not pay (opt-out p99 2-8 "
            "ms worse, latency no better; docs/performance.md, stop 27).",
            bounds=(1, 52_428_800),
        ),
    )
    state_dir: Path = field(
        default=Path(".consentgate/stack"),
        metadata=_env(
            "CONSENTGATE_STATE_DIR", "Where the embedded local stack keeps jars, data, logs, pids."
        ),
    )
    kafka_port: int = field(
        default=9092,
        metadata=_env("CONSENTGATE_KAFKA_PORT", "Embedded stack: Kafka broker port.", bounds=_PORT),
    )
    kafka_controller_port: int = field(
        default=9093,
        metadata=_env(
            "CONSENTGATE_KAFKA_CONTROLLER_PORT",
            "Embedded stack: KRaft controller port.",
            bounds=_PORT,
        ),
    )
    registry_port: int = field(
        default=8081,
        metadata=_env(
            "CONSENTGATE_REGISTRY_PORT", "Embedded stack: schema registry port.", bounds=_PORT
        ),
    )
    kafka_version: str = field(
        default="4.2.0",
        metadata=_env("CONSENTGATE_KAFKA_VERSION", "Embedded stack: Apache Kafka version (Maven)."),
    )
    registry_version: str = field(
        default="2.6.13.Final",
        metadata=_env(
            "CONSENTGATE_REGISTRY_VERSION",
            "Embedded stack: Apicurio Registry version (Maven); 3.x needs Java 21.",
        ),
    )
    log_level: str = field(
        default="info",
        metadata=_env(
            "CONSENTGATE_LOG_LEVEL",
            "Log level of consentgate processes.",
            choices=("debug", "info", "warning", "error", "critical"),
        ),
    )
    event_loop: str = field(
        default="uvloop",
        metadata=_env(
            "CONSENTGATE_EVENT_LOOP",
            "Worker event loop: uvloop or asyncio. uvloop costs less CPU per verdict and shortens "
            "the latency tail (docs/performance.md); without it installed, asyncio is used.",
            choices=("uvloop", "asyncio"),
        ),
    )
    gc_tuning: bool = field(
        default=True,
        metadata=_env(
            "CONSENTGATE_GC_TUNING",
            "Tune Python's garbage collector for the worker: objects made during start-up are "
            "frozen out of collections (gc.freeze) and the youngest generation is collected "
            "every 50,000 allocations instead of 700: collections took 8% of the worker's CPU "
            "during a drain, 0.5-0.8% tuned (docs/performance.md). "
            "consentgate_gc_pause_seconds_total shows what they cost.",
        ),
    )
    security_protocol: str = field(
        default="plaintext",
        metadata=_env(
            "CONSENTGATE_SECURITY_PROTOCOL",
            "How every Kafka client connects: plaintext, ssl, sasl_plaintext or sasl_ssl.",
            choices=("plaintext", "ssl", "sasl_plaintext", "sasl_ssl"),
        ),
    )
    sasl_mechanism: str = field(
        default="scram-sha-512",
        metadata=_env(
            "CONSENTGATE_SASL_MECHANISM",
            "SASL mechanism when the protocol is sasl_*: scram-sha-512, scram-sha-256 or plain.",
            choices=("scram-sha-512", "scram-sha-256", "plain"),
        ),
    )
    sasl_username: str = field(
        default="",
        metadata=_env("CONSENTGATE_SASL_USERNAME", "SASL user name (the Kafka principal)."),
    )
    # repr=False: a logged or printed Settings never carries a password.
    sasl_password: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CONSENTGATE_SASL_PASSWORD", "SASL password (secret: shown as ***).", secret=True
        ),
    )
    ssl_ca_file: Path | None = field(
        default=None,
        metadata=_env(
            "CONSENTGATE_SSL_CA_FILE",
            "PEM file of the CA that signed the brokers' (and an https registry's) certificates; "
            "empty: the system's trust store.",
        ),
    )
    registry_username: str = field(
        default="",
        metadata=_env("CONSENTGATE_REGISTRY_USERNAME", "Schema registry basic-auth user name."),
    )
    registry_password: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CONSENTGATE_REGISTRY_PASSWORD",
            "Schema registry basic-auth password (secret: shown as ***).",
            secret=True,
        ),
    )
    # -- HTTP connectors (connectors/http, `consentgate connectors`) --
    connector_bind: str = field(
        default="127.0.0.1",
        metadata=_env("CONSENTGATE_CONNECTOR_BIND", "Address the HTTP connectors server binds."),
    )
    connector_port: int = field(
        default=8088,
        metadata=_env(
            "CONSENTGATE_CONNECTOR_PORT", "Port of the HTTP connectors server.", bounds=_PORT
        ),
    )
    public_url: str = field(
        default="",
        metadata=_env(
            "CONSENTGATE_PUBLIC_URL",
            "Public base URL of the connectors (https://host[/prefix]) as senders and providers "
            "see it: used in the links built and in the Twilio signature check behind a proxy. "
            "Empty: the URL each request arrived on.",
        ),
    )
    unsubscribe_keys: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CONSENTGATE_UNSUBSCRIBE_KEYS",
            "kid:secret[,kid:secret...] signing unsubscribe and consent-confirmation links; the "
            "first signs, every one verifies (rotation). Empty: those connectors are off. "
            "(secret: shown as ***)",
            secret=True,
        ),
    )
    unsubscribe_max_age: timedelta = field(
        default=timedelta(days=90),
        metadata=_env(
            "CONSENTGATE_UNSUBSCRIBE_MAX_AGE_S",
            "How long an unsubscribe link works, in seconds (CAN-SPAM: at least 30 days).",
            bounds=(30 * 86400, 3650 * 86400),
        ),
    )
    confirm_max_age: timedelta = field(
        default=timedelta(days=7),
        metadata=_env(
            "CONSENTGATE_CONFIRM_MAX_AGE_S",
            "How long a double opt-in confirmation link works, in seconds.",
            bounds=(300, 90 * 86400),
        ),
    )
    consent_api_keys: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CONSENTGATE_CONSENT_API_KEYS",
            "Comma-separated bearer keys a site's backend presents to POST /consent. Empty: "
            "POST /consent is off. (secret: shown as ***)",
            secret=True,
        ),
    )
    twilio_auth_token: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CONSENTGATE_TWILIO_AUTH_TOKEN",
            "Twilio auth token checking X-Twilio-Signature; empty: the SMS webhook is off. "
            "(secret: shown as ***)",
            secret=True,
        ),
    )
    sms_senders: str = field(
        default="",
        metadata=_env(
            "CONSENTGATE_SMS_SENDERS",
            "Which party owns each receiving number: +14155550100=company,+14155550111=acme. "
            "A number not listed belongs to the first party.",
        ),
    )
    sms_help_text: str = field(
        default="Reply STOP to stop these messages, START to receive them again.",
        metadata=_env("CONSENTGATE_SMS_HELP_TEXT", "Reply to an SMS HELP (or INFO, AIDE, AYUDA)."),
    )
    sendgrid_public_key: str = field(
        default="",
        metadata=_env(
            "CONSENTGATE_SENDGRID_PUBLIC_KEY",
            "SendGrid Event Webhook verification key (base64 DER, as SendGrid shows it); empty: "
            "the SendGrid webhook is off.",
        ),
    )
    connector_jurisdiction: str = field(
        default="US",
        metadata=_env(
            "CONSENTGATE_CONNECTOR_JURISDICTION",
            "Jurisdiction of a connector record when its source does not say (a SendGrid event "
            "without a consentgate_jurisdiction custom arg, a consent form without one).",
        ),
    )
    pseudonym_keys: str = field(
        default="",
        repr=False,
        metadata=_env(
            "CONSENTGATE_PSEUDONYM_KEYS",
            "kid:base64key[,kid:base64key...] (keys of at least 16 bytes) for the recipient "
            "pseudonyms on verdicts, violations and the ledger; the first is current, all are "
            "tried by `consentgate audit` (rotation: put the new key first). Empty: a random key "
            "made at first start in the data directory (pseudonym.key, mode 0600), with a "
            "warning; set it when workers run on more than one machine. (secret: shown as ***)",
            secret=True,
        ),
    )
    reconcile_deliveries: bool = field(
        default=True,
        metadata=_env(
            "CONSENTGATE_RECONCILE_DELIVERIES",
            "Run the delivery reconciler (issue 15 §5): every worker then also reads the "
            "verdicts topic and keeps each verdict for CONSENTGATE_DELIVERY_RETENTION_S, about "
            "one more table write per verdict. false: deliveries are not read and nothing is "
            "reconciled (for a delivery side that reports nothing).",
        ),
    )
    delivery_wait: timedelta = field(
        default=timedelta(minutes=5),
        metadata=_env(
            "CONSENTGATE_DELIVERY_WAIT_S",
            "How long a delivery report waits for its intent's verdict before it is "
            "SENT_WITHOUT_ALLOW, in seconds: counted on verdict record time from the report's "
            "broker timestamp, or on wall time from when the worker first held it, whichever "
            "ends first (issue 15 §5).",
            bounds=(0, 86400),
        ),
    )
    delivery_retention: timedelta = field(
        default=timedelta(days=7),
        metadata=_env(
            "CONSENTGATE_DELIVERY_RETENTION_S",
            "How long the delivery reconciler keeps an intent's verdict (and deliveries) after "
            "the last record about it, in seconds: a delivery reported later than this after "
            "its verdict is SENT_WITHOUT_ALLOW. Bounds the deliveries table.",
            bounds=(3600, 366 * 86400),
        ),
    )
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: the process environment)."""
        source = os.environ if environ is None else environ
        return _load(cls, source)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(raw: str, kind: Any, name: str, metadata: Mapping[str, Any] | None = None) -> Any:
    value = _parse_type(raw, kind, name)
    check = metadata or {}
    try:
        if "choices" in check:
            value = _chosen(value, check["choices"])
        if "bounds" in check:
            low, high = check["bounds"]
            amount = value.total_seconds() if isinstance(value, timedelta) else value
            if not low <= amount <= high:
                raise ValueError(f"must be between {low} and {high}")
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from exc
    return value


def _chosen(value: Any, choices: tuple[str, ...]) -> Any:
    """`value` (a string or a set of them) in lower case, each one of `choices`."""
    values = value if isinstance(value, frozenset) else frozenset({value})
    folded = frozenset(v.strip().lower() for v in values)
    unknown = sorted(folded - set(choices))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not one of {', '.join(choices)}")
    return folded if isinstance(value, frozenset) else next(iter(folded))


def _parse_type(raw: str, kind: Any, name: str) -> Any:
    kind = _unwrap_optional(kind)
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true or false")
        if kind is Path:
            return Path(raw)
        if kind is timedelta:
            seconds = float(raw)
            if seconds < 0:
                raise ValueError("must not be negative")
            return timedelta(seconds=seconds)
        if kind == frozenset[str]:
            return frozenset(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except (ValueError, OverflowError) as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from exc


def _unwrap_optional(kind: Any) -> Any:
    """`X | None` → `X` (an optional setting is None when its variable is unset or empty)."""
    if isinstance(kind, types.UnionType):
        args = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind


def _load(cls: Any, environ: Mapping[str, str]) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        kind = hints[spec.name]
        if dataclasses.is_dataclass(kind):
            values[spec.name] = _load(kind, environ)
            continue
        env_name = spec.metadata.get("env")
        if env_name and env_name in environ and environ[env_name] != "":
            values[spec.name] = _parse(environ[env_name], kind, env_name, spec.metadata)
    try:
        return cls(**values)
    except ValueError as exc:  # a field's own check (PolicyConfig's first party) names its variable
        raise SettingsError(str(exc)) from exc


def documented_fields(cls: Any = Settings) -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, nested ones included."""
    rows: list[tuple[str, str, str]] = []
    hints = get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        kind = hints[spec.name]
        if dataclasses.is_dataclass(kind):
            rows.extend(documented_fields(kind))
            continue
        default = spec.default
        if isinstance(default, timedelta):
            shown = f"{default.total_seconds():g}"
        elif isinstance(default, frozenset):
            shown = ",".join(sorted(default))
        elif default is None:
            shown = ""
        else:
            shown = str(default)
        rows.append((spec.metadata["env"], shown, spec.metadata["doc"]))
    return rows


def _shown(value: Any) -> str:
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}"
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    return "" if value is None else str(value)


SECRET_MASK = "***"


def current_values(settings: Any) -> dict[str, str]:
    """Environment variable -> the value in force, for showing: a set secret reads `***`."""
    return _values(settings, masked=True)


def environment_of(settings: Any) -> dict[str, str]:
    """Environment variable -> the value in force, secrets included: the environment that
    rebuilds these settings in a child process. Never print or log it."""
    return _values(settings, masked=False)


def _values(settings: Any, *, masked: bool) -> dict[str, str]:
    values: dict[str, str] = {}
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        if dataclasses.is_dataclass(value):
            values.update(_values(value, masked=masked))
        elif masked and spec.metadata.get("secret") and value:
            values[spec.metadata["env"]] = SECRET_MASK
        else:
            values[spec.metadata["env"]] = _shown(value)
    return values
