"""The connectors' pages in a real browser: Debian's headless Chromium driven by selenium.

1. An unsubscribe link: the page shows, the button is clicked, the confirmation shows (in French,
   the browser's language), and the opt-out is read back from Kafka, the only record there.
2. Double opt-in end to end: the site's backend records the grant, the person opens the link and
   confirms, and a real worker then allows a promotional intent (CONSENT_VALID) that it denied
   CONSENT_UNCONFIRMED before the click.
Both run `consentgate connectors` as a process. Without Chromium the tests fail in CI (CI=true)
and are skipped elsewhere.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.http.tokens import LinkClaims
from connectors.http.unsubscribe import record_id, unsubscribe_url
from streams import topics
from streams.runtime.admin import ensure_topics
from streams.serdes import codec_for
from tests import builders
from tests.gatekit import OutputReader, RunningGate, gate_settings
from tests.integration.connectors_support import (
    SITE_KEY,
    ConnectorsProcess,
    connector_settings,
    unsubscribe_tokens,
)
from tests.prom import in_ci

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "chromium and chromium-driver (Debian) are needed for the browser tests"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument("--lang=fr-FR")
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def click_and_wait(driver: Any, button_id: str, page_id: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, 30).until(
        expected_conditions.presence_of_element_located((By.ID, page_id))
    )
    text: str = driver.find_element(By.ID, "message").text
    return text


def test_unsubscribe_link_page_button_confirmation_and_the_optout_on_kafka(
    browser, kafka_stack, unique_name, tmp_path
):
    from selenium.webdriver.common.by import By

    name = unique_name("unsub")
    settings = connector_settings(
        kafka_stack.settings(app_id=f"{name}-app", topic_prefix=f"{name}.", partitions=3)
    )
    ensure_topics(settings)
    server = ConnectorsProcess(settings, tmp_path / "connectors.log").start()
    optouts = OutputReader(settings, codec_for(settings, register=True), topics.OPTOUT)
    try:
        claims = LinkClaims("grace@example.com", "email", "company", "FR")
        link = unsubscribe_url(unsubscribe_tokens(settings), server.url, claims)
        token = link.rsplit("/", 1)[1]
        browser.get(link)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Désinscription"
        assert "g***@example.com" in browser.find_element(By.ID, "message").text
        browser.refresh()  # looked at twice: still nothing recorded
        confirmation = click_and_wait(browser, "unsubscribe-button", "unsubscribed")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Vous êtes désinscrit"
        assert "ne recevra plus" in confirmation
        optouts.wait_for_ids([record_id(token, "unsubscribe_link")], timeout=30)
        optouts.poll(1.0)
        [record] = optouts.records  # the page views recorded nothing
        assert (record["address"], record["party"], record["method"], record["jurisdiction"]) == (
            "grace@example.com",
            "company",
            "unsubscribe_link",
            "FR",
        )
    finally:
        optouts.close()
        server.stop()


def test_double_opt_in_end_to_end_then_a_real_worker_allows_the_promotion(
    browser, kafka_stack, unique_name, tmp_path
):
    name = unique_name("doi")
    gate = RunningGate.start(gate_settings(kafka_stack, name, tmp_path), tmp_path)
    settings = connector_settings(gate.settings)
    server = ConnectorsProcess(settings, tmp_path / "connectors.log").start()
    verdicts = gate.reader(topics.VERDICTS)
    address = "heidi@example.com"
    try:
        # the site's backend records the grant (the person's form submission) and gets the link
        request = urllib.request.Request(
            f"{server.url}/consent",
            data=json.dumps(
                {
                    "email": address,
                    "form_version": "signup-v3",
                    "notice_text": "Offers by email",
                    "ip": "198.51.100.4",
                    "user_agent": "Mozilla/5.0",
                }
            ).encode(),
            headers={"Authorization": f"Bearer {SITE_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201
            link = json.load(answer)["confirm_url"]

        before = promotional_intent(f"{name}-before", address)
        gate.producer.publish(before)
        verdicts.wait_for_ids([before["id"]], timeout=60)
        assert verdicts.records[-1]["reason"] == "CONSENT_UNCONFIRMED"

        browser.get(link)
        assert "Confirmer" in browser.page_source
        confirmation = click_and_wait(browser, "confirm-button", "confirmed")
        assert "h***@example.com" in confirmation

        after = promotional_intent(f"{name}-after", address)
        gate.producer.publish(after)
        verdicts.wait_for_ids([after["id"]], timeout=60)
        verdict = next(r for r in verdicts.records if r["id"] == after["id"])
        assert (verdict["decision"], verdict["reason"]) == ("allow", "CONSENT_VALID")
    finally:
        verdicts.close()
        server.stop()
        gate.stop()


def promotional_intent(intent_id: str, address: str) -> dict[str, Any]:
    """A first-party promotional email with an unsubscribe link, dated just after now."""
    at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    return builders.intent(id=intent_id, channel="email", address=address, at=at)
