"""quick_init's __init__ against dataclasses' own, for every class that has one."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, InitVar, dataclass, field

import pytest

import streams.policy.content.normalize
import streams.policy.engine
import streams.policy.recipient
import streams.policy.records
import streams.policy.state  # noqa: F401 - imported for their decorated classes
from streams.policy.quick_init import DECORATED, quick_init

EXPECTED = {
    "ConsentLine",
    "ConsentRecord",
    "Decision",
    "NumberFacts",
    "OptOutMark",
    "OptOutRecord",
    "RecipientState",
    "SendIntent",
    "Verdict",
    "Views",
    "Violation",
}


def test_the_hot_classes_have_it() -> None:
    assert {cls.__name__ for cls in DECORATED} >= EXPECTED


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__qualname__)
def test_signature_is_dataclasses_own(cls: type) -> None:
    ours = inspect.signature(cls.__init__)
    theirs = inspect.signature(cls.__init__.dataclass_init)  # type: ignore[misc]
    assert [(p.name, p.kind, p.annotation) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.annotation) for p in theirs.parameters.values()
    ]
    for name, param in theirs.parameters.items():
        if param.default is inspect.Parameter.empty:
            assert ours.parameters[name].default is inspect.Parameter.empty
        elif repr(param.default) == "<factory>":
            assert repr(ours.parameters[name].default) == "<factory>"
        else:
            assert ours.parameters[name].default is param.default


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__qualname__)
def test_same_object_as_dataclasses_init(cls: type) -> None:
    fields = dataclasses.fields(cls)
    args = [object() for _ in fields]
    required = [
        f
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    ours, theirs = object.__new__(cls), object.__new__(cls)
    cls.__init__(ours, *args)
    cls.__init__.dataclass_init(theirs, *args)  # type: ignore[attr-defined]
    for f, arg in zip(fields, args, strict=True):
        assert getattr(ours, f.name) is arg is getattr(theirs, f.name)
    # by keyword, the defaulted fields left out: defaults and fresh factory values
    keywords = {f.name: object() for f in required}
    ours, theirs = cls(**keywords), object.__new__(cls)
    cls.__init__.dataclass_init(theirs, **keywords)  # type: ignore[attr-defined]
    for f in fields:
        if f.default_factory is not dataclasses.MISSING:
            assert getattr(ours, f.name) == getattr(theirs, f.name) == f.default_factory()
            assert getattr(ours, f.name) is not getattr(cls(**keywords), f.name)
        else:
            assert getattr(ours, f.name) is getattr(theirs, f.name)


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__qualname__)
def test_still_frozen_and_strict_about_arguments(cls: type) -> None:
    fields = dataclasses.fields(cls)
    instance = cls(*[object() for _ in fields])
    with pytest.raises(FrozenInstanceError):
        setattr(instance, fields[0].name, 1)
    with pytest.raises(TypeError):
        cls(*[object() for _ in range(len(fields) + 1)])
    with pytest.raises(TypeError):
        cls(not_a_field=1)


def test_refuses_what_it_would_treat_differently() -> None:
    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        b: InitVar[int]

    @dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True, slots=True)
    class NotInInit:
        a: int = field(init=False, default=1)

    for cls in (NotFrozen, NoSlots, PostInit, WithInitVar, KeywordOnly, NotInInit):
        with pytest.raises(TypeError):
            quick_init(cls)
