"""Promotional-content and opt-out-mechanism detection on real-looking messages, both ways."""

from __future__ import annotations

import pytest

from streams.policy.content import has_opt_out_mechanism, promotional_match

PROMOTIONAL = [
    "Your order shipped! Use code SAVE20 for 20% off your next order.",
    "Summer plans: 20% off all data bundles this week.",
    "Get 15% off everything in store this weekend only.",
    "Save $10 on your next booking with us.",
    "Save up to 40% on winter coats.",
    "$5 off when you spend $30 or more.",
    "Enjoy £20 off your first order with code HELLO20.",
    "Enter code WELCOME at checkout.",
    "Use code FREESHIP to get your goodies faster.",
    "Your promo code inside: don't forget to use it.",
    "Here is a coupon code just for you.",
    "Redeem voucher code SPRING-24 today.",
    "The Summer Sale is here. Everything must go!",
    "Our Black Friday sale starts at midnight.",
    "Thousands of items on sale now.",
    "Sale ends Sunday, don't wait.",
    "Browse our clearance items before they are gone.",
    "Buy now and pay later with Klarna.",
    "Shop now: new styles just for you.",
    "Upgrade today for just $4.99 a month.",
    "Order now! Stocks are limited.",
    "Limited-time offer: double points on every purchase.",
    "For a limited time, get two months free.",
    "Today only: members get early access.",
    "Hurry, while stocks last!",
    "Don't miss out on our biggest event of the year.",
    "Last chance to grab your festival tickets at early-bird prices.",
    "Free shipping on all orders over $50.",
    "Free delivery this week on every order.",
    "Check out this week's hot deals.",
    "Deal of the day: noise-cancelling headphones.",
    "An exclusive offer for our loyal customers.",
    "Special offer: 3 months of premium on us.",
    "Offer ends Friday at 5pm.",
    "Get exclusive access to our new range before anyone else.",
    "BOGO on all smoothies until Sunday.",
    "Buy one, get one free on selected pizzas.",
    "Half-price tickets for students this month.",
    "New phones from only $199.",
    "Our lowest prices ever on laptops.",
    "Earn 5% cashback on every purchase with our card.",
    "Refer a friend and you both get a reward.",
    "New arrivals are in. Treat yourself.",
    "Get 10% discount on your renewal when you pay annually.",
    "Your order shipped! As a thank-you, enjoy 25% off your next purchase.",
    "Grab yours before they're gone.",
    "Welcome offer: your first coffee is on us.",
    "Shop the new collection online.",
]

NOT_PROMOTIONAL = [
    "Your order 5512 has shipped.",
    "Your order 77 has shipped.",
    "Your order shipped and will arrive on Tuesday.",
    "Your verification code is 482913.",
    "Use code 482913 to sign in.",
    "Enter code AB12CD to verify your phone number.",
    "Your one-time passcode is 771204. It expires in 10 minutes.",
    "Your login code: 553201",
    "Receipt: $20.00 paid by card ending 4242.",
    "Receipt for order 9912: total $54.10. Discount applied: -$5.00.",
    "Coupon SAVE10 applied: you paid $45.00.",
    "Your invoice INV-2231 for $120.00 is due on 3 July.",
    "Payment of $49.99 received. Thank you.",
    "Refund of $15.00 has been issued to your card.",
    "Your password was changed. If this wasn't you, contact support.",
    "New sign-in to your account from Chrome on Windows.",
    "Security alert: a new device was added to your account.",
    "Reminder: your appointment is tomorrow at 10:00.",
    "Reminder: your bin collection is on Thursday.",
    "Your sale is complete. The buyer's payment is on its way.",
    "Notice: our terms of service change on 1 July.",
    "We have updated our privacy policy. Read it at example.com/privacy.",
    "Your free trial ends in 3 days. Your card will be charged $9.99.",
    "Your subscription renews on 12 August.",
    "Your package is awaiting customs clearance.",
    "Your package is out for delivery.",
    "Delivery scheduled between 9 and 11am tomorrow.",
    "Your flight BA283 is delayed by 40 minutes.",
    "Your booking is confirmed for 2 guests on 14 June.",
    "You have used 80% of your data allowance.",
    "Your account balance is $12.30.",
    "Your table for 4 is booked at 19:30.",
    "You are unsubscribed and will get no more marketing texts.",
    "You are unsubscribed.",
    "Your return has been received and is being processed.",
    "Your prescription is ready for pickup.",
    "The meter reading for your account is due this week.",
    "Your order now ships on Tuesday instead of Monday.",
    "Your upgrade now includes 20 GB of storage.",
    "Your free gift has shipped with order 4410.",
    "Thanks for your order today. We'll email you when it ships.",
    "Your loan offer letter is attached for your review.",
    "Your data export is ready to download.",
    "Last chance to update your payment details before your account is suspended.",
    "Your item has dropped off at the depot.",
    "Important: scheduled maintenance on Sunday from 01:00 to 03:00 UTC.",
    "Stop by the front desk to collect your keys.",
]


def test_enough_examples_each_way() -> None:
    assert len(PROMOTIONAL) >= 40 and len(NOT_PROMOTIONAL) >= 40


@pytest.mark.parametrize("body", PROMOTIONAL)
def test_promotional_bodies_are_flagged(body: str) -> None:
    assert promotional_match(body) is not None


@pytest.mark.parametrize("body", NOT_PROMOTIONAL)
def test_service_bodies_are_not_flagged(body: str) -> None:
    assert promotional_match(body) is None


def test_match_names_the_pattern_for_explanations() -> None:
    assert promotional_match("Get 15% off today") == "percent_off"
    assert promotional_match("Enter code WELCOME at checkout.") == "use_code"


SHOWS_OPT_OUT = [
    ("email", "Unsubscribe: https://example.com/u/abc123"),
    ("email", "Don't want these? https://example.com/unsubscribe?u=9"),
    ("email", "To opt out of these emails, click here."),
    ("email", "You can opt-out at any time."),
    ("email", "Manage your preferences or leave the list."),
    ("email", "Update your email preferences in your account."),
    ("sms", "Reply STOP to opt out."),
    ("sms", "20% off today. Txt stop to end"),
    ("mms", "New menu! STOP to quit"),
    ("whatsapp", "Reply STOP to stop receiving offers."),
    ("voice", "Hi, this is Acme calling about our new plans."),
    ("fax", "Spring catalogue enclosed."),
    ("social_dm", "Check out our new range!"),
    ("post", "Our spring catalogue."),
]
HIDES_OPT_OUT = [
    ("email", "Autumn collection, 15% off for members."),
    ("email", "Reply STOP to end."),  # STOP is no way out of an email list
    ("sms", "Summer plans: 20% off all data bundles this week."),
    ("sms", "Reply STOPALL for help"),
    ("sms", "Unsubscribe at example.com/u"),
    ("mms", "New menu just dropped!"),
    ("whatsapp", "Big news: our app is live."),
]


@pytest.mark.parametrize(("channel", "body"), SHOWS_OPT_OUT)
def test_bodies_showing_a_way_out(channel: str, body: str) -> None:
    assert has_opt_out_mechanism(channel, body)


@pytest.mark.parametrize(("channel", "body"), HIDES_OPT_OUT)
def test_bodies_without_a_way_out(channel: str, body: str) -> None:
    assert not has_opt_out_mechanism(channel, body)
