"""`phone_types.region_and_type` is phonenumbers' `region_code_for_number` and `number_type`.

The normalizer's validity check, the quiet-hours facts (region, geographical or not) and every
rule that reads a number's country rest on these two answers, so the compiled walk must give
phonenumbers' own for every region: its example numbers of every type, those numbers with a digit
changed, added or dropped (near misses fall between types and regions), and generated numbers
over calling codes that several regions share.
"""

from __future__ import annotations

import inspect
import random

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumber, PhoneNumberType, phonenumberutil

from streams.policy.phone_types import _SPECIAL_TYPES, region_and_type

_TYPES = [getattr(PhoneNumberType, name) for name in dir(PhoneNumberType) if name.isupper()]


def _reference(number: PhoneNumber) -> tuple[str | None, int]:
    return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)


def _disagreements(numbers: list[PhoneNumber]) -> list[tuple[str, object, object]]:
    found = []
    for number in numbers:
        if (ours := region_and_type(number)) != (theirs := _reference(number)):
            found.append(
                (
                    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                    ours,
                    theirs,
                )
            )
    return found[:5]


def _examples() -> list[PhoneNumber]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append(number)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append(number)
    return found


def _near_misses(numbers: list[PhoneNumber], per_number: int) -> list[PhoneNumber]:
    rng = random.Random(20261207)
    found = []
    for number in numbers:
        digits = str(number.national_number)
        for _ in range(per_number):
            changed = list(digits)
            roll = rng.random()
            if roll < 0.5:
                changed[rng.randrange(len(changed))] = str(rng.randrange(10))
            elif roll < 0.75:
                changed.insert(rng.randrange(len(changed) + 1), str(rng.randrange(10)))
            elif len(changed) > 1:
                del changed[rng.randrange(len(changed))]
            try:
                found.append(phonenumbers.parse(f"+{number.country_code}{''.join(changed)}"))
            except phonenumbers.NumberParseException:
                continue
    return found


def test_every_regions_example_numbers_get_phonenumbers_region_and_type() -> None:
    examples = _examples()
    assert len(examples) > 1200, "phonenumbers ships examples for every region and many types"
    kinds = {phonenumbers.number_type(number) for number in examples}
    assert len(kinds) >= 10, "the examples span the types, so the order between them is checked"
    assert not _disagreements(examples)


def test_near_misses_of_the_examples_get_phonenumbers_region_and_type() -> None:
    numbers = _near_misses(_examples(), per_number=12)
    assert len(numbers) > 15000
    invalid = sum(phonenumbers.number_type(n) == PhoneNumberType.UNKNOWN for n in numbers)
    assert 0.2 < invalid / len(numbers) < 0.8, "both valid and invalid numbers are compared"
    assert not _disagreements(numbers)


# calling codes several regions share (region_code_for_number walks them), and some of one region
_SHARED = [1, 7, 44, 47, 61, 212, 262, 290, 358, 590, 599]
_SINGLE = [33, 49, 81, 91, 353, 968, 41, 800, 870, 882, 979]


@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(_SHARED + _SINGLE), national=st.integers(0, 10**12))
@example(code=1, national=4155550123)  # US
@example(code=1, national=4165550123)  # CA, after the US fails
@example(code=1, national=2684601234)  # AG, by leading digits
@example(code=1, national=1234567890)  # no NANP region takes it
@example(code=44, national=1624456789)  # IM, sharing +44 with GB
@example(code=7, national=7012345678)  # KZ, sharing +7 with RU
@example(code=999, national=123456)  # no region at all
def test_generated_numbers_get_phonenumbers_region_and_type(code: int, national: int) -> None:
    try:
        number = phonenumbers.parse(f"+{code}{national}", None)
    except phonenumbers.NumberParseException:
        return
    assert region_and_type(number) == _reference(number)


@pytest.mark.parametrize("text", ["+39 06 1234 5678", "+39 0012345678", "+225 0123456789"])
def test_leading_zeros_are_part_of_the_national_number(text: str) -> None:
    """Italian (and Ivorian) numbers keep their leading zeros: the national significant number is
    read as phonenumbers reads it, not from the integer alone."""
    number = phonenumbers.parse(text, None)
    assert number.italian_leading_zero
    assert region_and_type(number) == _reference(number)


def test_types_are_tried_in_phonenumbers_order() -> None:
    """Today's metadata keeps the special types disjoint (no example number or near miss matches
    two), so the order cannot show in results; it is pinned to phonenumbers' source instead, and
    this fails when a release reorders `_number_type_helper`."""
    source = inspect.getsource(phonenumberutil._number_type_helper)
    fields = [field for field, _ in _SPECIAL_TYPES] + ["fixed_line", "mobile"]
    positions = [source.index(f"metadata.{field})") for field in fields]
    assert positions == sorted(positions)
    assert source.count("_is_number_matching_desc(") == len(fields) + 2  # general, mobile twice
