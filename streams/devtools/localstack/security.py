"""The secured local stack (`consentgate stack up --secure`): TLS, SASL/SCRAM-SHA-512 and ACLs.

What it makes, all under `<state>/security/` (mode 0700):

    ca.pem              the stack's own CA certificate: the CA file every client trusts
    broker.pem          the broker's PKCS#8 key and its certificate chain (0600); SAN localhost
                        and 127.0.0.1, because every client verifies the host name
    credentials.json    one random password per principal (0600); nothing else holds them in
                        clear except the broker's server.properties (0600, JAAS for itself)

The CA's private key is never written: it signs the broker certificate and is dropped, so a new
certificate (when the old one nears its end) comes with a new CA.

The broker has two listeners on 127.0.0.1, both SASL_SSL: CLIENT (SCRAM-SHA-512, advertised,
also the inter-broker listener) and CONTROLLER (PLAIN, because KRaft cannot use SCRAM between
controller and broker). `StandardAuthorizer` denies whatever no ACL allows; the admin principal
is the only super user. SCRAM credentials are written into the metadata log at format time
(`kafka-storage format --add-scram`, KIP-900), in the pre-salted form so that no password is on a
command line. ACLs come from the admin client after start: the worker may use its own topics, its
group and its internal (changelog) topics; each connector may only write its one input topic.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams import topics
from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.prereqs import LOOPBACK
from streams.settings import Settings

MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
CERT_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=7)

ADMIN = "admin"
WORKER = "worker"
# One principal per connector, each writing only its own input topic.
CONNECTOR_TOPICS: dict[str, topics.TopicSpec] = {
    "consent": topics.CONSENT,
    "optout": topics.OPTOUT,
    "partner": topics.PARTNER,
    "intents": topics.INTENTS,
}
PRINCIPALS: tuple[str, ...] = (ADMIN, WORKER, *CONNECTOR_TOPICS)


def username(principal: str) -> str:
    """The Kafka user name of a principal's short name: `worker` -> `consentgate-worker`."""
    if principal in CONNECTOR_TOPICS:
        return f"consentgate-connector-{principal}"
    return f"consentgate-{principal}"


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file only its owner can read, never briefly readable by others."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True, slots=True)
class SecurityLayout:
    root: Path

    @classmethod
    def under(cls, state_dir: Path) -> SecurityLayout:
        return cls(state_dir / "security")

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        return self.root / "broker.pem"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    def exists(self) -> bool:
        return self.credentials_file.is_file()


class Credentials:
    """Passwords by principal short name. Its repr and str never show a password."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self._passwords = dict(passwords)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(sorted(self._passwords))})"

    __str__ = __repr__

    def password(self, principal: str) -> str:
        try:
            return self._passwords[principal]
        except KeyError:
            raise StackError(f"no credentials for principal {principal!r}") from None

    @classmethod
    def generate(cls) -> Credentials:
        # URL-safe: no quote, semicolon or comma to break a JAAS line or a SCRAM argument.
        return cls({principal: secrets.token_urlsafe(24) for principal in PRINCIPALS})

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StackError(f"cannot read the stack's credentials file {path}") from exc
        return cls({str(k): str(v) for k, v in loaded["passwords"].items()})

    def save(self, path: Path) -> None:
        _write_private(path, (json.dumps({"passwords": self._passwords}, indent=2) + "\n").encode())


# -- certificates -------------------------------------------------------------------------------


def _certificate_valid(path: Path, now: dt.datetime) -> bool:
    from cryptography import x509

    try:
        chain = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return False
    return bool(chain) and chain[0].not_valid_after_utc - RENEW_BEFORE > now


def make_certificates(layout: SecurityLayout, now: dt.datetime | None = None) -> bool:
    """A CA and a broker certificate it signed, unless a valid one is there; True if made."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or dt.datetime.now(dt.UTC)
    if layout.ca_file.is_file() and _certificate_valid(layout.broker_pem, now):
        return False
    layout.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=CERT_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consentgate local stack CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # Kafka's PEM key store reads PKCS#8 only, unencrypted here (0600, like the data itself).
    key_bytes = broker_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(
        layout.broker_pem, key_bytes + broker_cert.public_bytes(pem) + ca_cert.public_bytes(pem)
    )
    layout.ca_file.write_bytes(ca_cert.public_bytes(pem))
    layout.ca_file.chmod(0o644)
    return True


def ensure_material(layout: SecurityLayout) -> Credentials:
    """Certificates (made or renewed) and the principals' passwords (made once, then kept)."""
    make_certificates(layout)
    if layout.credentials_file.is_file():
        return Credentials.load(layout.credentials_file)
    credentials = Credentials.generate()
    credentials.save(layout.credentials_file)
    return credentials


# -- broker configuration -----------------------------------------------------------------------


def _jaas(module: str, user: str, password: str, *extra: str) -> str:
    options = " ".join([f'username="{user}"', f'password="{password}"', *extra])
    return f"{module} required {options};"


def render_security_properties(layout: SecurityLayout, credentials: Credentials) -> list[str]:
    """The server.properties lines that secure the node (the listeners are set by the caller)."""
    admin, secret = username(ADMIN), credentials.password(ADMIN)
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return [
        "listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SASL_SSL",
        "inter.broker.listener.name=CLIENT",
        "listener.name.client.sasl.enabled.mechanisms=" + MECHANISM,
        "sasl.mechanism.inter.broker.protocol=" + MECHANISM,
        f"listener.name.client.{MECHANISM.lower()}.sasl.jaas.config={_jaas(scram, admin, secret)}",
        # SCRAM cannot authenticate the broker to the KRaft controller: PLAIN, inside TLS.
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.plain.sasl.jaas.config="
        + _jaas(plain, admin, secret, f'user_{admin}="{secret}"'),
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={layout.broker_pem}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={layout.ca_file}",
        "ssl.client.auth=none",
        "ssl.endpoint.identification.algorithm=https",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{admin}",
        "allow.everyone.if.no.acl.found=false",
    ]


def scram_argument(user: str, password: str, salt: bytes | None = None) -> str:
    """A `--add-scram` value in the pre-salted form: the password itself stays off the command
    line (RFC 5802: SaltedPassword = PBKDF2-HMAC(password, salt, iterations))."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, SCRAM_ITERATIONS)
    return (
        f"{MECHANISM}=[name={user},iterations={SCRAM_ITERATIONS},"
        f'salt="{base64.b64encode(salt).decode()}",'
        f'saltedpassword="{base64.b64encode(salted).decode()}"]'
    )


def format_arguments(credentials: Credentials) -> list[str]:
    arguments: list[str] = []
    for principal in PRINCIPALS:
        arguments += [
            "--add-scram",
            scram_argument(username(principal), credentials.password(principal)),
        ]
    return arguments


# -- clients ------------------------------------------------------------------------------------


def client_settings(
    settings: Settings, layout: SecurityLayout, credentials: Credentials, principal: str
) -> Settings:
    """`settings` with the security of one principal on this stack."""
    return settings.replace(
        security_protocol="sasl_ssl",
        sasl_mechanism=MECHANISM.lower(),
        sasl_username=username(principal),
        sasl_password=credentials.password(principal),
        ssl_ca_file=layout.ca_file,
    )


def client_env(layout: SecurityLayout, credentials: Credentials, principal: str) -> dict[str, str]:
    """The variables that make a consentgate process connect as `principal` (with its password:
    for `eval`, never for a log)."""
    return {
        "CONSENTGATE_SECURITY_PROTOCOL": "sasl_ssl",
        "CONSENTGATE_SASL_MECHANISM": MECHANISM.lower(),
        "CONSENTGATE_SASL_USERNAME": username(principal),
        "CONSENTGATE_SASL_PASSWORD": credentials.password(principal),
        "CONSENTGATE_SSL_CA_FILE": str(layout.ca_file),
    }


# -- ACLs ---------------------------------------------------------------------------------------


def worker_acls(user: str, topic_prefix: str, app_id: str) -> list[Any]:
    """The worker's rights: its topics (it reads the inputs, writes the outputs, and re-routes
    mis-partitioned inputs), its internal topics `<app_id>-*` (changelog, assignor), and its
    groups `<app_id>` and `<app_id>-*` (the bulk changelog loader)."""
    from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

    principal = f"User:{user}"
    topic_ops = (
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.CREATE,
        AclOperation.DESCRIBE,
        AclOperation.DESCRIBE_CONFIGS,
    )
    group_ops = (AclOperation.READ, AclOperation.DESCRIBE)
    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    wanted: list[tuple[ResourceType, str, ResourcePatternType, Iterable[AclOperation]]] = [
        *((ResourceType.TOPIC, spec.name(topic_prefix), literal, topic_ops) for spec in topics.ALL),
        (ResourceType.TOPIC, f"{app_id}-", prefixed, topic_ops),
        (ResourceType.GROUP, app_id, literal, group_ops),
        (ResourceType.GROUP, f"{app_id}-", prefixed, group_ops),
    ]
    return [
        _allow(kind, name, pattern, principal, op)
        for kind, name, pattern, ops in wanted
        for op in ops
    ]


def connector_acls(user: str, spec: topics.TopicSpec, topic_prefix: str) -> list[Any]:
    """A connector's rights: write (and see) its one input topic, nothing else."""
    from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

    return [
        _allow(
            ResourceType.TOPIC,
            spec.name(topic_prefix),
            ResourcePatternType.LITERAL,
            f"User:{user}",
            op,
        )
        for op in (AclOperation.WRITE, AclOperation.DESCRIBE)
    ]


def _allow(kind: Any, name: str, pattern: Any, principal: str, operation: Any) -> Any:
    from confluent_kafka.admin import AclBinding, AclPermissionType

    return AclBinding(kind, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)


def gate_acls(topic_prefix: str, app_id: str) -> list[Any]:
    """Every binding one gate (topic prefix, app id) needs: its worker's and its connectors'."""
    bindings = worker_acls(username(WORKER), topic_prefix, app_id)
    for principal, spec in CONNECTOR_TOPICS.items():
        bindings += connector_acls(username(principal), spec, topic_prefix)
    return bindings


def grant(admin_config: dict[str, Any], bindings: list[Any], timeout: float = 30.0) -> int:
    """Create `bindings` (creating an existing one is a no-op); return how many were asked."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**admin_config, "log_level": 3})  # no info lines on the way out
    failures = []
    for binding, future in admin.create_acls(bindings, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout + 1)
        except Exception as exc:  # KafkaException carries the broker's error, no credentials
            failures.append(f"{binding.principal} {binding.operation} {binding.name}: {exc}")
    if failures:
        raise StackError(f"{len(failures)} ACLs were refused, e.g. {failures[0]}")
    return len(bindings)
