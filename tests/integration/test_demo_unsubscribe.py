"""The demo's unsubscribe link end to end, from the demo's own building blocks: the connectors child
with a key of the run, the watched recipient's link, a GET (a page, nothing recorded), the page's
form posted as a browser would, and the next promotional mail through a real worker: OPTED_OUT."""

from __future__ import annotations

import urllib.parse
import urllib.request
from html.parser import HTMLParser
from typing import Any

from connectors.producer import GateProducer
from streams import topics
from streams.devtools.demo_connectors import (
    KEY_ID,
    ConnectorsProcess,
    Watch,
    unsubscribe_link,
    watched_recipient,
    with_connectors,
)
from streams.devtools.workload import Clock, consent_records, make_recipients, partner_records
from tests.gatekit import OutputReader, RunningGate, gate_settings


class FormReader(HTMLParser):
    """The page's first form: method, action and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms = 0
        self.method = ""
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms += 1
            self.method = (found.get("method") or "get").lower()
            self.action = found.get("action")
        elif tag == "input" and self.forms == 1 and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def verdict_of(
    producer: GateProducer, verdicts: OutputReader, watch: Watch, clock: Clock
) -> dict[str, Any]:
    """Sends the watched recipient its next mail (acknowledged) and returns that mail's verdict."""
    intent = watch.intent(clock)
    producer.publish(intent, wait=True)
    verdicts.wait_for_ids([intent["id"]], timeout=30)
    verdict = next(v for v in verdicts.records if v["id"] == intent["id"])
    assert watch.seen(verdict)
    return verdict


def test_the_demo_link_opts_the_watched_recipient_out(kafka_stack, unique_name, tmp_path):
    gate = RunningGate.start(
        gate_settings(kafka_stack, unique_name("demo-unsub"), tmp_path), tmp_path
    )
    served = with_connectors(gate.settings)
    secret = served.unsubscribe_keys.partition(":")[2]
    connectors = ConnectorsProcess(served, tmp_path / "connectors.log")
    verdicts = gate.reader(topics.VERDICTS)
    try:
        connectors.start()
        clock = Clock()
        state = partner_records(clock) + list(consent_records(make_recipients(300), clock))
        gate.producer.publish_all(state, wait_each=False)
        recipient = watched_recipient(state)
        link = unsubscribe_link(served, recipient)
        watch = Watch(recipient, link, id_prefix="watch-")
        assert link.startswith(f"{connectors.url}/u/{KEY_ID}.") and secret not in link
        assert watch.recipient.address not in link
        first = verdict_of(gate.producer, verdicts, watch, clock)
        assert (first["decision"], first["reason"]) == ("allow", "CONSENT_VALID")

        with urllib.request.urlopen(link, timeout=10) as page:  # what a link scanner does too
            assert page.status == 200
            form = FormReader()
            form.feed(page.read().decode())
        after_get = verdict_of(gate.producer, verdicts, watch, clock)
        assert (after_get["decision"], after_get["reason"]) == ("allow", "CONSENT_VALID")

        assert form.method == "post" and form.fields
        target = urllib.parse.urljoin(link, form.action or "")
        body = urllib.parse.urlencode(form.fields).encode()
        with urllib.request.urlopen(urllib.request.Request(target, data=body), timeout=10) as done:
            assert done.status == 200
            assert 'id="unsubscribed"' in done.read().decode()
        after_click = verdict_of(gate.producer, verdicts, watch, clock)
        assert (after_click["decision"], after_click["reason"]) == ("deny", "OPTED_OUT")
        assert "deny/OPTED_OUT" in watch.line()
    finally:
        connectors.stop()
        verdicts.close()
        gate.stop()
    log = (tmp_path / "connectors.log").read_text()
    assert secret not in log and link.rpartition("/")[2] not in log
