"""Security settings reach every client, and no password is shown, logged or put on a command line.

The broker side (TLS, SCRAM, ACLs) is exercised live in tests/integration/test_secure_stack.py;
here: the config builders, the masking, and the secured stack's generated material.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.producer import producer_config
from streams import topics
from streams.devtools.localstack import kafka
from streams.devtools.localstack import security as sec
from streams.kafka_config import (
    aiokafka_security_kwargs,
    client_config,
    output_producer_config,
    security_config,
)
from streams.runtime.app import faust_settings
from streams.serdes.factory import registry_config
from streams.settings import Settings, SettingsError, current_values, environment_of

PASSWORD = "pw-" + "x7Qz9" * 4
REGISTRY_PASSWORD = "reg-" + "K2m" * 5


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    layout = sec.SecurityLayout(tmp_path / "security")
    sec.make_certificates(layout)
    return layout.ca_file


@pytest.fixture
def secured(ca_file: Path) -> Settings:
    return Settings().replace(
        security_protocol="sasl_ssl",
        sasl_mechanism="scram-sha-512",
        sasl_username="consentgate-worker",
        sasl_password=PASSWORD,
        ssl_ca_file=ca_file,
        registry_username="gate",
        registry_password=REGISTRY_PASSWORD,
    )


# -- builders -----------------------------------------------------------------------------------


def test_plaintext_clients_get_no_security_properties():
    assert client_config(Settings()) == {"bootstrap.servers": "127.0.0.1:9092"}
    assert aiokafka_security_kwargs(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert faust_settings(Settings(), 3)["broker_credentials"] is None
    assert registry_config(Settings()) == {"url": Settings().schema_registry_url}


def test_librdkafka_clients_carry_protocol_mechanism_credentials_and_ca(secured):
    expected = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "consentgate-worker",
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(secured.ssl_ca_file),
    }
    for config in (client_config(secured), output_producer_config(secured)):
        assert {k: config[k] for k in expected} == expected
    connector = producer_config("b:9092", security=security_config(secured), **{"linger.ms": 0})
    assert {k: connector[k] for k in expected} == expected
    assert connector["linger.ms"] == 0 and connector["acks"] == "all"


def test_tls_without_sasl_sends_no_sasl_properties(ca_file):
    settings = Settings().replace(security_protocol="ssl", ssl_ca_file=ca_file)
    assert security_config(settings) == {
        "security.protocol": "SSL",
        "ssl.ca.location": str(ca_file),
    }
    credentials = faust_settings(settings, 3)["broker_credentials"]
    assert isinstance(credentials, faust.SSLCredentials)


def test_aiokafka_and_faust_clients_verify_the_broker_and_authenticate(secured):
    kwargs = aiokafka_security_kwargs(secured)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        "consentgate-worker",
        PASSWORD,
    )
    context = kwargs["ssl_context"]
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.get_ca_certs()[0]["subject"] == (
        (("commonName", "consentgate local stack CA"),),
    )
    credentials = faust_settings(secured, 3)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.password == PASSWORD and credentials.ssl_context.check_hostname


def test_registry_client_gets_basic_auth(secured):
    config = registry_config(secured)
    assert config["basic.auth.user.info"] == f"gate:{REGISTRY_PASSWORD}"
    assert "ssl.ca.location" not in config  # http registry: no CA to pass
    https = registry_config(secured.replace(schema_registry_url="https://registry:8081"))
    assert https["ssl.ca.location"] == str(secured.ssl_ca_file)


@pytest.mark.parametrize(
    "changes",
    [
        {"security_protocol": "sasl_ssl"},
        {"security_protocol": "sasl_plaintext", "sasl_username": "u"},
        {"security_protocol": "ssl", "ssl_ca_file": Path("/nonexistent/ca.pem")},
    ],
)
def test_half_configured_security_fails_before_connecting(changes):
    with pytest.raises(SettingsError):
        client_config(Settings().replace(**changes))
    with pytest.raises(SettingsError):
        aiokafka_security_kwargs(Settings().replace(**changes))


def test_security_settings_are_validated_from_the_environment():
    loaded = Settings.from_env(
        {"CONSENTGATE_SECURITY_PROTOCOL": "SASL_SSL", "CONSENTGATE_SASL_MECHANISM": "PLAIN"}
    )
    assert (loaded.security_protocol, loaded.sasl_mechanism) == ("sasl_ssl", "plain")
    with pytest.raises(SettingsError, match="CONSENTGATE_SECURITY_PROTOCOL"):
        Settings.from_env({"CONSENTGATE_SECURITY_PROTOCOL": "kerberos"})
    with pytest.raises(SettingsError, match="CONSENTGATE_SASL_MECHANISM"):
        Settings.from_env({"CONSENTGATE_SASL_MECHANISM": "GSSAPI"})


# -- never shown ----------------------------------------------------------------------------------


def test_secrets_are_masked_for_display_and_whole_for_a_child(secured):
    shown = current_values(secured)
    assert shown["CONSENTGATE_SASL_PASSWORD"] == "***"
    assert shown["CONSENTGATE_REGISTRY_PASSWORD"] == "***"
    assert shown["CONSENTGATE_SASL_USERNAME"] == "consentgate-worker"
    assert PASSWORD not in repr(secured) and REGISTRY_PASSWORD not in str(secured)
    child = environment_of(secured)
    assert child["CONSENTGATE_SASL_PASSWORD"] == PASSWORD
    assert current_values(Settings())["CONSENTGATE_SASL_PASSWORD"] == ""  # unset: nothing to mask


def test_consentgate_config_never_prints_a_password(secured, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **{k: v for k, v in environment_of(secured).items() if k.startswith("CONSENTGATE_SSL")},
        "CONSENTGATE_SECURITY_PROTOCOL": "sasl_ssl",
        "CONSENTGATE_SASL_USERNAME": "consentgate-worker",
        "CONSENTGATE_SASL_PASSWORD": PASSWORD,
        "CONSENTGATE_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams", "config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "CONSENTGATE_SASL_PASSWORD" in done.stdout and "***" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    assert REGISTRY_PASSWORD not in done.stdout + done.stderr


def test_building_clients_logs_no_secret(secured, caplog):
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("consentgate.test")
    client_config(secured)
    aiokafka_security_kwargs(secured)
    faust_settings(secured, 3)
    registry_config(secured)
    log.info("starting with %s and %r", secured, sec.Credentials({"worker": PASSWORD}))
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert PASSWORD not in text and REGISTRY_PASSWORD not in text


# -- the secured stack's material ----------------------------------------------------------------


def test_certificates_chain_to_the_ca_and_name_loopback(tmp_path):
    layout = sec.SecurityLayout(tmp_path / "security")
    assert sec.make_certificates(layout) is True
    pem = layout.broker_pem.read_bytes()
    assert b"-----BEGIN PRIVATE KEY-----" in pem  # PKCS#8: what Kafka's PEM key store reads
    broker, ca_in_chain = x509.load_pem_x509_certificates(pem)
    ca = x509.load_pem_x509_certificate(layout.ca_file.read_bytes())
    assert ca_in_chain == ca
    broker.verify_directly_issued_by(ca)
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert stat.S_IMODE(layout.broker_pem.stat().st_mode) == 0o600
    # A valid certificate is kept; one near its end is replaced (with a new CA).
    assert sec.make_certificates(layout) is False
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=sec.CERT_DAYS)
    assert sec.make_certificates(layout, now=later) is True
    assert x509.load_pem_x509_certificate(layout.ca_file.read_bytes()) != ca


def test_credentials_are_random_private_and_never_in_a_repr(tmp_path):
    layout = sec.SecurityLayout(tmp_path / "security")
    first = sec.ensure_material(layout)
    assert stat.S_IMODE(layout.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    passwords = {p: first.password(p) for p in sec.PRINCIPALS}
    assert len(set(passwords.values())) == len(sec.PRINCIPALS)
    assert all(len(p) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in passwords.values())
    assert not any(p in repr(first) for p in passwords.values())
    again = sec.ensure_material(layout)  # kept across `up`s: the broker's metadata has them
    assert {p: again.password(p) for p in sec.PRINCIPALS} == passwords
    assert sec.Credentials.generate().password(sec.WORKER) != passwords[sec.WORKER]


def test_scram_users_are_added_pre_salted_so_no_password_is_on_the_command_line():
    credentials = sec.Credentials.generate()
    arguments = sec.format_arguments(credentials)
    assert arguments[::2] == ["--add-scram"] * len(sec.PRINCIPALS)
    for principal, value in zip(sec.PRINCIPALS, arguments[1::2], strict=True):
        assert credentials.password(principal) not in value
        match = re.fullmatch(
            r'SCRAM-SHA-512=\[name=([^,]+),iterations=(\d+),salt="([^"]+)",saltedpassword="([^"]+)"\]',
            value,
        )
        assert match, value
        name, iterations, salt, salted = match.groups()
        assert name == sec.username(principal)
        expected = hashlib.pbkdf2_hmac(
            "sha512",
            credentials.password(principal).encode(),
            base64.b64decode(salt),
            int(iterations),
        )
        assert base64.b64decode(salted) == expected


def test_secured_broker_listens_only_with_sasl_ssl_and_denies_by_default(tmp_path):
    layout = sec.SecurityLayout(tmp_path / "security")
    credentials = sec.ensure_material(layout)
    lines = sec.render_security_properties(layout, credentials)
    rendered = kafka.render_server_properties(19092, 19093, tmp_path / "data", lines)
    props = dict(
        line.split("=", 1) for line in rendered.splitlines() if "=" in line and line[0] != "#"
    )
    assert props["listeners"] == "CLIENT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SASL_SSL"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"].replace("SASL_", "")
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["super.users"] == "User:consentgate-admin"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    # Only the admin's password is in the broker's file (0600, written by `prepare`).
    for principal in sec.PRINCIPALS:
        assert (credentials.password(principal) in rendered) == (principal == sec.ADMIN)


def test_acls_give_the_worker_its_topics_and_each_connector_one_input():
    from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

    bindings = sec.gate_acls("g1.", "g1-app")
    worker = [b for b in bindings if b.principal == "User:consentgate-worker"]
    worker_topics = {b.name for b in worker if b.restype == ResourceType.TOPIC}
    assert worker_topics == {spec.name("g1.") for spec in topics.ALL} | {"g1-app-"}
    prefixed = {
        (b.restype, b.name)
        for b in worker
        if b.resource_pattern_type == ResourcePatternType.PREFIXED
    }
    assert prefixed == {(ResourceType.TOPIC, "g1-app-"), (ResourceType.GROUP, "g1-app-")}
    assert {b.name for b in worker if b.restype == ResourceType.GROUP} == {"g1-app", "g1-app-"}
    for principal, spec in sec.CONNECTOR_TOPICS.items():
        mine = [b for b in bindings if b.principal == f"User:{sec.username(principal)}"]
        assert {(b.restype, b.name) for b in mine} == {(ResourceType.TOPIC, spec.name("g1."))}
        assert {b.operation for b in mine} == {AclOperation.WRITE, AclOperation.DESCRIBE}
    assert all(b.principal != "User:consentgate-admin" for b in bindings)  # super user: none


def test_stack_env_secure_refuses_an_open_stack(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CONSENTGATE_STATE_DIR": str(tmp_path / "stack"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams", "stack", "env", "--secure"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "not secured" in done.stderr and done.stdout == ""


def test_faust_reads_no_environment_variable_of_its_own(monkeypatch, tmp_path):
    # faust lets WEB_BIND, BROKER_SESSION_TIMEOUT, ... override the settings it is given; the
    # gate's one settings object must be the only source (a stray WEB_BIND=0.0.0.0 would
    # expose the worker's HTTP server).
    import faust

    monkeypatch.setenv("WEB_BIND", "0.0.0.0")
    monkeypatch.setenv("WEB_PORT", "7777")
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", "99")
    settings = Settings.from_env(
        {"CONSENTGATE_SESSION_TIMEOUT_S": "6", "CONSENTGATE_DATA_DIR": str(tmp_path)}
    )
    conf = faust.App(settings.app_id, **faust_settings(settings, 3)).conf
    assert (
        (conf.web_bind, conf.web_port)
        == (settings.web_bind, settings.web_port)
        != ("0.0.0.0", 7777)
    )
    assert conf.broker_session_timeout == 6.0
    assert conf.broker_heartbeat_interval == pytest.approx(2.0)  # a third of a short session
    long = Settings.from_env({"CONSENTGATE_SESSION_TIMEOUT_S": "60", "CONSENTGATE_DATA_DIR": "x"})
    assert faust_settings(long, 3)["broker_heartbeat_interval"] == 3.0
