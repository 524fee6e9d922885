"""SMS keyword reading: the keyword lists, forgiving spelling, plain-language stop requests."""

from __future__ import annotations

import pytest

from connectors.http.keywords import classify, normalize


@pytest.mark.parametrize(
    "body",
    [
        "STOP", "stop", "Stop.", " stop!! ", "\uff33\uff34\uff2f\uff30", "STOP\u200b",
        "UNSUBSCRIBE", "Cancel", "END",
        "quit", "REVOKE", "OPTOUT", "opt-out", "Opt out", "ARRET", "Arrêt", "arrête", "ARRÊTEZ",
        "Désabonner", "PARAR", "Baja", "alto", "CANCELAR", "stop please", "Please STOP",
        "stop now thanks", "Arrêt SVP", "Baja por favor",
    ],
)  # fmt: skip
def test_stop_family_keywords_in_any_case_accent_or_punctuation(body):
    assert classify(body).kind == "stop"


@pytest.mark.parametrize(
    "body",
    [
        "please stop texting me",
        "Stop sending me these",
        "Remove me from your list",
        "take me off this list",
        "don't text me again",
        "No more messages",
        "leave me alone",
        "I said STOP",
        "merci de ne plus m'envoyer de messages",
        "Arrêtez de m'écrire",
        "no más mensajes por favor",
        "dejen de enviarme mensajes",
        "quiero darme de baja",
    ],
)
def test_plain_requests_to_stop_are_stops(body):
    assert classify(body).kind == "stop"


@pytest.mark.parametrize("body", ["STOPALL", "stop all", "Stop ALL please", "StopAll!"])
def test_stop_all(body):
    assert classify(body).kind == "stop_all"


@pytest.mark.parametrize("body", ["START", "start", "Unstop", "UNSTOP."])
def test_start(body):
    assert classify(body).kind == "start"


@pytest.mark.parametrize("body", ["HELP", "help?", "Info", "AIDE", "ayuda"])
def test_help(body):
    assert classify(body).kind == "help"


@pytest.mark.parametrize(
    "body",
    ["hello", "yes", "what time do you open?", "start me up with the new plan", "can you help me"],
)
def test_everything_else_asks_for_nothing(body):
    assert classify(body).kind == "none"


def test_stop_beats_start_and_help():
    assert classify("start stop").kind == "stop"
    assert classify("help me stop these").kind == "stop"


def test_twilio_opt_out_type_counts_but_never_weakens_a_stop():
    assert classify("Stop it already you people", "STOP").kind == "stop"
    assert classify("hello", "START").kind == "start"
    assert classify("STOP", "START").kind == "stop"


@pytest.mark.parametrize(
    "body,lang", [("ARRET", "fr"), ("Désabonner", "fr"), ("PARAR", "es"), ("STOP", "en")]
)
def test_the_language_of_the_keyword_picks_the_confirmation_language(body, lang):
    assert classify(body).lang == lang


def test_normalize_folds_case_accents_width_and_punctuation():
    assert normalize("  ÀRRÊT!!  s.v.p ") == "arret s v p"
    assert normalize("\uff33\uff34\uff2f\uff30\u200b") == "stop"
