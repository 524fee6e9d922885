"""`state.decode_state` reads every stored value as its plain definition does.

Every intent decodes its recipient's state, so the decoder skips work where it can (no
generator per line, nothing to do for empty confirm and mark lists). Here it is held to the plain
decoder it replaced, kept below as the reference: over well-formed values of every format and
over malformed ones (wrong shapes, types and group sizes), it must give the same state, horizon
and opt-out ids, or refuse exactly when the reference refuses.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.policy.state import (
    MIN_MS,
    STATE_FORMAT,
    Confirm,
    ConsentLine,
    Grant,
    OptOutMark,
    RecipientState,
    StateDecodeError,
    decode_state,
)


def _reference(data: bytes) -> RecipientState:
    """decode_state as it was written first: one loop for every format."""
    version = data[0] if data else None
    if version not in (1, 2, STATE_FORMAT):
        raise StateDecodeError("unknown version")
    try:
        body = orjson.loads(data[1:])
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError("not JSON") from exc
    try:
        consents_raw, optouts_raw, marks_raw = body
        consents = {}
        times: list[Any] = [MIN_MS]
        for channel, party, flat, *rest in consents_raw:
            width = 3 if version == STATE_FORMAT else 2
            if len(flat) % width:
                raise ValueError("grants")
            times += flat[::width]
            grants = tuple(map(Grant, *(flat[i::width] for i in range(width))))
            if version != 1:
                (pairs,) = rest
                width = 4 if version == STATE_FORMAT else 2
                if len(pairs) % width:
                    raise ValueError("confirms")
                times += pairs[::width]
                confirms = tuple(map(Confirm, *(pairs[i::width] for i in range(width))))
            else:
                confirmed_at, paired = rest
                confirms = () if confirmed_at is None else (Confirm(confirmed_at, paired),)
                if confirmed_at is not None:
                    times.append(confirmed_at)
            consents[(channel, party)] = ConsentLine(grants, confirms)
        optouts = {}
        optout_ids = {}
        for channel, party, at, *known in optouts_raw:
            optouts[(channel, party)] = at
            if known and known[0] is not None:
                optout_ids[(channel, party)] = known[0]
        times += optouts.values()
        marks = tuple(OptOutMark(*mark) for mark in marks_raw)
        times += [m.at for m in marks]
        horizon = max(times)
        if not isinstance(horizon, int):
            raise TypeError("times")
        return RecipientState(consents, optouts, marks, horizon, optout_ids=optout_ids)
    except (TypeError, ValueError, IndexError) as exc:
        raise StateDecodeError(str(exc)) from None


def _outcome(function: Any, data: bytes) -> Any:
    try:
        state = function(data)
    except StateDecodeError:
        return "refused"
    return state, state.horizon, state.optout_ids


_ODD = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3),
                 st.just({}), st.just([]), st.just(""), st.just(0))  # fmt: skip
_AT = st.one_of(st.integers(-(2**40), 2**41), _ODD)
_TEXT = st.one_of(st.sampled_from(["sms", "email", "company", "partner", "c1"]), _ODD)
_FLAT = st.one_of(st.lists(st.one_of(_AT, _TEXT), max_size=10), _ODD)
_LINE = st.lists(st.one_of(_TEXT, _FLAT), min_size=2, max_size=5)
_OPTOUT = st.lists(st.one_of(_TEXT, _AT), min_size=2, max_size=5)
_MARK = st.lists(st.one_of(_AT, _TEXT), min_size=3, max_size=6)
_BODY = st.one_of(
    st.tuples(
        st.lists(_LINE, max_size=3),
        st.one_of(st.lists(_OPTOUT, max_size=2), _ODD),
        st.one_of(st.lists(_MARK, max_size=2), _ODD),
    ).map(list),
    _ODD,
    st.lists(_ODD, max_size=4),
)


def _well_formed(version: int) -> st.SearchStrategy[Any]:
    grant = st.tuples(st.integers(0, 2**41), st.sampled_from(["express", "implied"]),
                      st.one_of(st.none(), st.text(max_size=4)))  # fmt: skip
    confirm = st.tuples(st.integers(0, 2**41), st.one_of(st.none(), st.integers(0, 2**41)),
                        st.one_of(st.none(), st.text(max_size=4)), st.none())  # fmt: skip
    g_width, c_width = (3, 4) if version == STATE_FORMAT else (2, 2)
    line = st.tuples(
        st.sampled_from(["sms", "email"]), st.sampled_from(["company", "p1"]),
        st.lists(grant, max_size=3).map(lambda gs: [x for g in gs for x in g[:g_width]]),
        st.lists(confirm, max_size=3).map(lambda cs: [x for c in cs for x in c[:c_width]]),
    ).map(list)  # fmt: skip
    optout = st.tuples(
        st.sampled_from(["sms", "email"]),
        st.one_of(st.none(), st.just("p1")),
        st.integers(0, 2**41),
        st.one_of(st.none(), st.text(max_size=4)),
    )
    mark = st.tuples(st.integers(0, 2**41), st.text(max_size=4), st.just("sms"), st.none())
    return st.tuples(
        st.lists(line, max_size=3), st.lists(optout.map(list), max_size=2),
        st.lists(mark.map(list), max_size=2),
    ).map(list)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(version=st.sampled_from([2, STATE_FORMAT]), data=st.data())
def test_well_formed_values_decode_as_the_reference_does(version: int, data: Any) -> None:
    body = data.draw(_well_formed(version))
    raw = bytes([version]) + orjson.dumps(body)
    ours = _outcome(decode_state, raw)
    assert ours != "refused"
    assert ours == _outcome(_reference, raw)


@settings(max_examples=1500, deadline=None)
@given(version=st.sampled_from([1, 2, STATE_FORMAT]), body=_BODY)
@example(version=STATE_FORMAT, body=[[["sms", "company", [5, "express", "c"], ""]], [], []])
@example(version=STATE_FORMAT, body=[[["sms", "company", [5, "express", "c"], 0]], [], []])
@example(version=STATE_FORMAT, body=[[["sms", "company", [5, "express", "c"], {}]], [], []])
@example(version=STATE_FORMAT, body=[[], [], 0])
@example(version=STATE_FORMAT, body=[[], [], ""])
@example(version=STATE_FORMAT, body=[[["sms", "company", "", []]], [], []])
def test_malformed_values_are_refused_as_the_reference_refuses(version: int, body: Any) -> None:
    raw = bytes([version]) + orjson.dumps(body)
    assert _outcome(decode_state, raw) == _outcome(_reference, raw)


@pytest.mark.parametrize("pairs", ["", 0, {}])
def test_a_confirm_list_that_is_not_a_list_is_refused(pairs: Any) -> None:
    """The shortcut for "nothing confirmed" takes only an empty list."""
    raw = bytes([STATE_FORMAT]) + orjson.dumps([[["sms", "c", [5, "express", "i"], pairs]], [], []])
    if pairs == "":  # the reference reads an empty string as no confirms, and so does this
        assert decode_state(raw).consents[("sms", "c")].confirms == ()
    else:
        with pytest.raises(StateDecodeError):
            decode_state(raw)
