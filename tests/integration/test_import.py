"""`consentgate import` into the real broker: the records arrive, and importing again adds no id."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import topics
from streams.cli import main
from streams.runtime.admin import ensure_topics
from streams.serdes import codec_for
from tests.gatekit import OutputReader

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"


def test_import_publishes_and_reimport_changes_no_id(
    kafka_stack, unique_name, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
):
    prefix = f"{unique_name('import')}."
    settings = kafka_stack.settings(topic_prefix=prefix, partitions=3)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", settings.schema_registry_url)
    monkeypatch.setenv("CONSENTGATE_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("CONSENTGATE_PARTITIONS", "3")
    export = tmp_path / "generic.csv"
    export.write_bytes((DATA / "generic.csv").read_bytes())
    command = ["import", str(export), "--format", "csv", "--party", "company",
               "--jurisdiction", "US"]  # fmt: skip

    assert main(command) == 0
    assert "published" in capsys.readouterr().out
    ensure_topics(settings)
    codec = codec_for(settings)
    consents = OutputReader(settings, codec, topics.CONSENT)
    optouts = OutputReader(settings, codec, topics.OPTOUT)
    try:
        consents.wait_for_count(3, timeout=30)
        optouts.wait_for_count(2, timeout=30)
        first_ids = {r["id"] for r in consents.records + optouts.records}
        assert len(first_ids) == 5
        sms = next(r for r in consents.records if r["channel"] == "sms")
        assert sms["address"] == "+14155550199" and sms["evidence"]["source"] == "import"
        complaint = next(r for r in optouts.records if r["method"] == "complaint")
        assert complaint["party"] is None

        assert main(command) == 0
        consents.wait_for_count(6, timeout=30)
        optouts.wait_for_count(4, timeout=30)
        assert {r["id"] for r in consents.records + optouts.records} == first_ids
    finally:
        consents.close()
        optouts.close()
