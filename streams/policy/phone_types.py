"""A phone number's region and type in one pass, as phonenumbers defines them.

`phonenumbers.number_type` finds the number's region (`region_code_for_number`), which for a
calling code shared by several regions classifies the number against each in turn, and then
classifies it again against the region found; every check goes through five Python calls and a
regex-cache lookup. The quiet-hours facts then ask for the region a third time. Here each
region's number descriptions are compiled once into a tuple of (type, lengths, pattern) in
phonenumbers' own order, and the region and type come out of one walk: the type found while
choosing a region is the type `number_type` would compute for it.

The result is phonenumbers' own, field for field; `tests/unit/policy/test_phone_types.py` holds
it to `region_code_for_number` and `number_type` over every region's example numbers and
generated ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberType,
    national_significant_number,
)
from phonenumbers.phonemetadata import PhoneNumberDesc

UNKNOWN: Final = PhoneNumberType.UNKNOWN
_NON_GEO_REGION: Final = "001"
# The order of `phonenumbers.phonenumberutil._number_type_helper`: the first type that matches
# wins; fixed line and mobile come last and may combine.
_SPECIAL_TYPES: Final = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)

# (lengths the description allows, empty for any; its pattern), or None where it matches nothing
_Desc = tuple[frozenset[int], re.Pattern[str]] | None


@dataclass(frozen=True, slots=True)
class _Region:
    general: _Desc
    special: tuple[tuple[int, frozenset[int], re.Pattern[str]], ...]
    fixed_line: _Desc
    mobile: _Desc
    same_mobile_and_fixed_line: bool
    leading_digits: re.Pattern[str] | None


def _desc(desc: PhoneNumberDesc | None) -> _Desc:
    """`_is_number_matching_desc`'s inputs: no description or no pattern never matches."""
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _matches(nsn: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(nsn) not in lengths:
        return False
    return pattern.fullmatch(nsn) is not None


_REGIONS: dict[tuple[int, str], _Region | None] = {}


def _region(calling_code: int, region: str) -> _Region | None:
    """The compiled descriptions of `region` (or of the non-geographical `calling_code` when
    `region` is "001"), once per process; None where phonenumbers has no metadata."""
    key = (calling_code, region)
    if key in _REGIONS:
        return _REGIONS[key]
    if region == _NON_GEO_REGION:
        metadata = PhoneMetadata.metadata_for_nongeo_region(calling_code, None)
    else:
        metadata = PhoneMetadata.metadata_for_region(region, None)
    compiled = None
    if metadata is not None:
        special = []
        for field, kind in _SPECIAL_TYPES:
            found = _desc(getattr(metadata, field))
            if found is not None:
                special.append((kind, found[0], found[1]))
        compiled = _Region(
            general=_desc(metadata.general_desc),
            special=tuple(special),
            fixed_line=_desc(metadata.fixed_line),
            mobile=_desc(metadata.mobile),
            same_mobile_and_fixed_line=bool(metadata.same_mobile_and_fixed_line_pattern),
            leading_digits=(
                re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
            ),
        )
    _REGIONS[key] = compiled
    return compiled


def _type(nsn: str, rules: _Region) -> int:
    """`phonenumbers.phonenumberutil._number_type_helper`, on compiled descriptions."""
    if not _matches(nsn, rules.general):
        return UNKNOWN
    length = len(nsn)
    for kind, lengths, pattern in rules.special:
        if (not lengths or length in lengths) and pattern.fullmatch(nsn) is not None:
            return kind
    if _matches(nsn, rules.fixed_line):
        if rules.same_mobile_and_fixed_line or _matches(nsn, rules.mobile):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not rules.same_mobile_and_fixed_line and _matches(nsn, rules.mobile):
        return PhoneNumberType.MOBILE
    return UNKNOWN


def region_and_type(number: PhoneNumber) -> tuple[str | None, int]:
    """`(phonenumbers.region_code_for_number(number), phonenumbers.number_type(number))`."""
    calling_code = number.country_code or 0
    regions = COUNTRY_CODE_TO_REGION_CODE.get(calling_code)
    if regions is None:
        return None, UNKNOWN
    nsn = national_significant_number(number)
    if len(regions) == 1:
        region = regions[0]
        rules = _region(calling_code, region)
        return region, (UNKNOWN if rules is None else _type(nsn, rules))
    for region in regions:  # region_code_for_number's walk over a shared calling code
        rules = _region(calling_code, region.upper())
        if rules is None:
            continue
        if rules.leading_digits is not None:
            if rules.leading_digits.match(nsn):
                return region, _type(nsn, rules)
            continue
        kind = _type(nsn, rules)
        if kind != UNKNOWN:
            return region, kind
    return None, UNKNOWN
