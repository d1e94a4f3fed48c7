"""thb-search's ``dataclass`` against the standard library's: the same
classes made both ways behave the same (construction, repr, equality,
hashing, immutability, ``replace``, pickling, pattern matching)."""

from __future__ import annotations

import dataclasses
import pickle
import sys
from typing import Any

import pytest

from thb_search import dataclass as ours


def _classes(decorate: Any) -> dict[str, type]:
    """The same class bodies, made with ``decorate(frozen=...)``."""

    @decorate(frozen=True)
    class Point:
        x: int
        y: int = 0
        tags: tuple[str, ...] = ()

    @decorate(frozen=True)
    class Selective:
        shown: str
        hidden: str = dataclasses.field(default="h", repr=False)
        uncompared: int = dataclasses.field(default=0, compare=False)
        unhashed: int = dataclasses.field(default=0, hash=False)
        always_hashed: int = dataclasses.field(default=0, compare=False, hash=True)

    @decorate(frozen=True)
    class Own:
        value: int

        def __repr__(self) -> str:
            return f"<own {self.value}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Own) and other.value % 10 == self.value % 10

    @decorate(frozen=True)
    class OwnHash:
        value: int

        def __hash__(self) -> int:
            return 7

    @decorate(frozen=True)
    class Empty:
        pass

    @decorate
    class Mutable:
        items: list[int] = dataclasses.field(default_factory=list)
        name: str = ""

    @decorate
    class Node:
        label: str
        child: Any = None

    @decorate(frozen=True)
    class Derived:
        base: int
        seen: tuple[int, ...] = dataclasses.field(default_factory=tuple)
        doubled: int = dataclasses.field(init=False, default=0)
        made: list[int] = dataclasses.field(init=False, default_factory=list, compare=False)
        unset: int = dataclasses.field(init=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "doubled", self.base * 2)
            object.__setattr__(self, "unset", len(self.seen))

    return {c.__name__: c for c in (Point, Selective, Own, OwnHash, Empty, Mutable, Node,
                                    Derived)}


def _std(cls: Any = None, /, *, frozen: bool = False) -> Any:
    return dataclasses.dataclass(cls, frozen=frozen) if cls is not None else (
        lambda c: dataclasses.dataclass(c, frozen=frozen))


STD, OURS = _classes(_std), _classes(ours.dataclass)
# Module-level names for pickling (a class pickles by its qualified name).
for _name, _cls in OURS.items():
    _cls.__qualname__ = f"Ours{_name}"
    setattr(sys.modules[__name__], f"Ours{_name}", _cls)
OursPoint = OURS["Point"]


def _both(which: str, /, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return STD[which](*args, **kwargs), OURS[which](*args, **kwargs)


def _repr(obj: Any) -> str:
    """repr with the class's own name (ours are renamed for pickling)."""
    return repr(obj).replace("Ours", "")


CASES = [
    ("Point", (1,), {}), ("Point", (1, 2, ("a", "b")), {}), ("Point", (), {"x": 3, "y": 4}),
    ("Selective", ("s",), {}), ("Selective", ("s", "x", 5, 6, 7), {}),
    ("Own", (3,), {}), ("OwnHash", (3,), {}), ("Empty", (), {}),
    ("Mutable", (), {}), ("Mutable", ([1, 2],), {"name": "n"}),
    ("Node", ("a",), {}), ("Node", ("a", "b"), {}),
    ("Derived", (4,), {}), ("Derived", (4, (1, 2)), {}), ("Derived", (), {"base": 5, "seen": (3,)}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CASES)
def test_made_classes_behave_as_the_standard_library_s(name: str, args: tuple,
                                                       kwargs: dict) -> None:
    std, own = _both(name, *args, **kwargs)
    assert _repr(own) == repr(std).replace("_classes.<locals>.", "")
    assert [f.name for f in dataclasses.fields(own)] == [f.name for f in dataclasses.fields(std)]
    assert own.__match_args__ == std.__match_args__
    assert dataclasses.asdict(own) == dataclasses.asdict(std)
    # Equality and hashing against copies and changed copies, as the standard
    # library's class answers them.
    for field in [None, *dataclasses.fields(std)]:
        changes = {} if field is None else {field.name: _other(getattr(std, field.name))}
        if field is not None and not field.init:
            continue
        std2, own2 = dataclasses.replace(std, **changes), dataclasses.replace(own, **changes)
        assert (own == own2) == (std == std2), field
        assert (own != own2) == (std != std2), field
        if std.__hash__ is None:
            assert own.__hash__ is None
            with pytest.raises(TypeError, match="unhashable"):
                hash(own)
        else:
            assert (hash(own) == hash(own2)) == (hash(std) == hash(std2)), field
            if name != "OwnHash":
                assert hash(own) == hash(std)  # (the same tuple of the same values)
    assert (own == std) is False  # (another class: NotImplemented both ways)
    assert own.__eq__(object()) is NotImplemented or name == "Own"


@pytest.mark.parametrize("name", sorted(STD))
def test_constructors_take_and_refuse_the_standard_library_s_arguments(name: str) -> None:
    import inspect

    std, own = STD[name], OURS[name]
    calls: list[tuple[tuple, dict]] = [((), {}), ((1, 2, 3, 4, 5, 6), {}), ((1,), {"nope": 1}),
                                       ((1,), {"x": 1, "base": 1, "label": 1, "value": 1})]
    for args, kwargs in calls:
        try:
            std(*args, **kwargs)
        except TypeError as exc:
            with pytest.raises(TypeError) as raised:
                own(*args, **kwargs)
            assert str(raised.value).replace("Ours", "") == str(exc).replace(
                "_classes.<locals>.", ""), (args, kwargs)
        else:
            own(*args, **kwargs)
    assert str(inspect.signature(own)) == str(inspect.signature(std))
    assert own.__init__.__qualname__ == f"{own.__qualname__}.__init__"
    assert own.__init__.__annotations__ == std.__init__.__annotations__
    assert own.__dataclass_params__.init is True
    assert own.__dataclass_params__.frozen is std.__dataclass_params__.frozen


def test_init_false_fields_and_post_init_as_the_standard_library_s() -> None:
    std, own = _both("Derived", 3, (7,))
    assert (own.doubled, own.made, own.unset) == (std.doubled, std.made, std.unset) == (6, [], 1)
    assert OURS["Derived"](1).made is not OURS["Derived"](1).made  # (a list each)


def test_what_it_does_not_make_is_refused_or_left_to_the_standard_library() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @ours.dataclass(frozen=True)
        class Misordered:
            a: int = 0
            b: int

    with pytest.raises(TypeError, match="Keyed: thb_search.dataclass makes no InitVar or "
                                        "keyword-only fields; use dataclasses.dataclass"):
        @ours.dataclass(frozen=True)
        class Keyed:
            a: int = dataclasses.field(kw_only=True)

    with pytest.raises(TypeError, match="Initial: thb_search.dataclass makes no InitVar"):
        @ours.dataclass
        class Initial:
            a: dataclasses.InitVar[int]

    # A dataclass base: the standard library makes the subclass (with its checks).
    @ours.dataclass(frozen=True)
    class Sub(OURS["Point"]):
        z: int = 9

    assert repr(Sub(1, 2)).endswith(".<locals>.Sub(x=1, y=2, tags=(), z=9)")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'z'"):
        Sub(1).z = 3
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):
        @ours.dataclass
        class Thawed(OURS["Point"]):
            z: int = 9


def _other(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 11
    if isinstance(value, str):
        return value + "z"
    if isinstance(value, tuple):
        return (*value, "z")
    if isinstance(value, list):
        return [*value, 9]
    return "other"


def test_frozen_classes_refuse_changes_as_the_standard_library_s() -> None:
    std, own = _both("Point", 1, 2)
    for obj in (std, own):
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
            obj.x = 5
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.new = 5
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
            del obj.y
    mutable = OURS["Mutable"]()
    mutable.name = "changed"
    assert mutable.name == "changed"
    assert OURS["Mutable"]().items is not OURS["Mutable"]().items  # (a list each)


def test_a_repr_of_an_object_holding_itself_stops() -> None:
    std, own = _both("Node", "a")
    std.child, own.child = std, own
    assert _repr(own) == repr(std).replace("_classes.<locals>.", "") == "Node(label='a', child=...)"


def test_made_objects_pickle_and_match() -> None:
    point = OURS["Point"](1, 2, ("t",))
    assert pickle.loads(pickle.dumps(point)) == point
    match point:
        case OursPoint(x, y):  # (positional: the class's __match_args__)
            assert (x, y) == (1, 2)
        case _:
            pytest.fail("no match")


def test_the_modules_a_search_imports_make_their_dataclasses_with_it() -> None:
    """Every dataclass of the modules a query imports is made here (so that
    start-up compiles at most a constructor a class, not six methods)."""
    import importlib

    for module in ("plan", "query", "results", "engine", "fields", "retrieval", "analysis",
                   "blocks", "locations", "snapshot", "texts"):
        mod = importlib.import_module(f"thb_search.{module}")
        made = [c for c in vars(mod).values() if isinstance(c, type)
                and dataclasses.is_dataclass(c) and c.__module__ == mod.__name__]
        assert made, module
        for cls in made:
            params = cls.__dataclass_params__
            assert (params.repr, params.eq) == (False, False), cls  # (ours, not compiled)
            assert cls.__repr__.__module__ == ours.__name__ or "__repr__" in cls.__dict__, cls
