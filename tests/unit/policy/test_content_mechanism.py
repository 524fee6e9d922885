"""The opt-out check reads the mechanism, not a word, in every company language."""

from __future__ import annotations

import pytest

from streams.policy.content import has_opt_out_mechanism, opt_out_form

WAYS_OUT = [
    ("sms", "Reply STOP to opt out.", "S1"),
    ("sms", "Text the word STOP to 12345.", "S1"),
    ("sms", "20% off today. Txt stop to end", "S1"),
    ("mms", "New menu! STOP to quit", "S2"),
    ("sms", "Opt out: STOP", "S3"),
    ("sms", "Soldes -30 %. STOP au 36111", "S2"),
    ("sms", "Répondez STOP pour ne plus recevoir nos offres.", "S1"),
    ("sms", "Antworten Sie mit STOPP, um keine SMS mehr zu erhalten.", "S1"),
    ("sms", "STOPP an 12345", "S2"),
    ("whatsapp", "Rispondi STOP per non ricevere più messaggi.", "S1"),
    ("sms", "Responde BAJA para no recibir más mensajes.", "S1"),
    ("sms", "Envía BAJA al 22533.", "S1"),
    ("sms", "दिवाली सेल! STOP लिखकर 12345 पर भेजें", "S4"),
    ("sms", "Offer sirf aaj. STOP likhkar 12345 par bhejein", "S4"),
    ("sms", "عروض العيد. أرسل STOP إلى 1234 لإلغاء الاشتراك", "S1"),
    ("email", "Unsubscribe: https://example.com/u/abc123", "E2"),
    ("email", "Don't want these? https://example.com/unsubscribe?u=9", "E1"),
    ("email", '<a href="https://e.com/prefs?optout=1">here</a>', "E1"),
    ("email", "You can unsubscribe at any time.", "E3"),
    ("email", "Offers | Unsubscribe | Privacy", "E4"),
    ("email", "Unsubscribe here.", "E4"),
    ("email", "To opt out of these emails, click here.", "E5"),
    ("email", "Click here to unsubscribe.", "E6"),
    ("email", "Manage your preferences or leave the list.", "E7"),
    ("email", "Pour vous désabonner, cliquez ici.", "E5"),
    ("email", "Vous pouvez vous désabonner à tout moment.", "E3"),
    ("email", "Um sich abzumelden, klicken Sie hier.", "E5"),
    ("email", "Per annullare l'iscrizione clicca qui.", "E5"),
    ("email", "Para darte de baja, haz clic aquí.", "E5"),
    ("email", "अनसब्सक्राइब करने के लिए यहां क्लिक करें।", "E5"),
    ("email", "لإلغاء الاشتراك اضغط هنا.", "E5"),
]
NO_WAY_OUT = [
    ("sms", "Summer plans: 20% off all data bundles this week."),
    ("sms", "Don't stop now: 20% off all bundles!"),
    ("sms", "We never stop improving. Reply with your feedback."),
    ("sms", "Reply STOPALL for help"),
    ("sms", "Unsubscribe at example.com/u"),  # a text needs a keyword instruction
    ("sms", "No te detengas: rebajas hasta el 50%."),
    ("email", "Autumn collection, 15% off for members."),
    ("email", "Reply STOP to end."),  # STOP is no way out of an email list
    ("email", "You cannot unsubscribe from these messages."),
    ("email", "You can not unsubscribe from this list."),
    ("email", "You can't opt out of service updates."),
    ("email", "There is no need to unsubscribe: we only write twice a year."),
    ("email", "You are unsubscribed from nothing. 20% off!"),
    ("email", "Vous ne pouvez pas vous désabonner de ces messages."),
    ("email", "Sie können sich nicht abmelden."),
    ("email", "No puedes darte de baja de este servicio."),
    ("email", "आप अनसब्सक्राइब नहीं कर सकते।"),
    ("email", "لا يمكنك إلغاء الاشتراك."),
]


@pytest.mark.parametrize(("channel", "body", "form"), WAYS_OUT)
def test_bodies_showing_a_way_out_name_the_form(channel: str, body: str, form: str) -> None:
    assert opt_out_form(channel, body) == form


@pytest.mark.parametrize(("channel", "body"), NO_WAY_OUT)
def test_bodies_without_a_way_out(channel: str, body: str) -> None:
    assert not has_opt_out_mechanism(channel, body)


@pytest.mark.parametrize("channel", ["voice", "fax", "social_dm", "post"])
def test_channels_words_cannot_judge_are_left_to_has_opt_out(channel: str) -> None:
    assert opt_out_form(channel, "Our spring catalogue.") == "n/a"


def test_unreadable_body_shows_no_way_out() -> None:
    assert not has_opt_out_mechanism("email", "&copy;" * 20_000 + " Unsubscribe: https://e.com/u")
