"""``dataclass`` as the standard library's, made with less compiling.

Python 3.11's ``dataclasses`` writes each method it adds as source and
compiles it: six a frozen class (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__``, ``__delattr__``).  The 41 dataclasses a
``thb-search QUERY`` process imports took 25.2-25.5 ms of its 156-162 to
make that way.  Here the standard library only collects the fields; then

* ``__repr__``, ``__eq__`` and ``__hash__`` are built from the fields and a
  frozen class's ``__setattr__`` and ``__delattr__`` are closures, none of
  them compiled;
* ``__init__`` is the standard library's source for it, compiled when the
  class makes its first object (a query makes objects of 27 of the 41);
  until then the class's ``__init__`` is a stand-in taking any arguments,
  and ``inspect.signature`` says so.

Making the 41 classes went 12.3-13.5 → 2.3-3.1 ms (16.6-17.1 with only the
first point, on a slower machine), and a query process on the bundled
catalogue 8-9 ms sooner (three sets of 25 alternating runs: medians
136.3-138.5 → 128.5-129.4 ms).  Tests compare the classes with the standard
library's on the same bodies: construction and its errors, signature,
repr, equality, hashing, immutability, ``replace``, pickling, matching.
A class with a dataclass base is made by the standard library; ``InitVar``
and keyword-only fields are refused.

The modules a search imports use it; the others use the standard library's.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def dataclass(cls: type[T], /) -> type[T]: ...
@overload
def dataclass(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def dataclass(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    """``dataclasses.dataclass(cls)`` or ``dataclasses.dataclass(frozen=True)``
    (the default ``init``, ``repr`` and ``eq``; no other options)."""
    def wrap(cls: type[T]) -> type[T]:
        return _make(cls, frozen)

    return wrap if cls is None else wrap(cls)


def _make(cls: type[T], frozen: bool) -> type[T]:
    own = cls.__dict__
    # (what ``dataclasses`` reads of the class body, before it adds anything)
    class_hash = own.get("__hash__", dataclasses.MISSING)
    explicit_hash = not (class_hash is dataclasses.MISSING
                         or (class_hash is None and "__eq__" in own))
    has_repr, has_eq = "__repr__" in own, "__eq__" in own
    # The standard library collects the fields and makes nothing to compile;
    # the constructor and the guards of a frozen class are made here (below).
    # What they do not cover (a dataclass base, ``InitVar``, keyword-only
    # fields, a class's own ``__setattr__``) it makes as ever.
    plain = not (any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:])
                 or (frozen and ("__setattr__" in own or "__delattr__" in own)))
    cls = dataclasses.dataclass(cls, init=not plain, frozen=frozen and not plain,
                                repr=False, eq=False)
    fields = dataclasses.fields(cls)
    if plain:
        if "__init__" not in own:
            _set(cls, "__init__", _init_fn(cls, fields, frozen))
        if frozen:
            names = frozenset(f.name for f in fields)
            _set(cls, "__setattr__", _setattr_fn(cls, names))
            _set(cls, "__delattr__", _delattr_fn(cls, names))
        params = cls.__dataclass_params__  # (this class's own: as the standard library's says)
        params.init, params.frozen = True, frozen
    if not has_repr:
        _set(cls, "__repr__", _repr_fn(tuple(f.name for f in fields if f.repr)))
    if not has_eq:
        _set(cls, "__eq__", _eq_fn(_key(tuple(f.name for f in fields if f.compare))))
    # ``dataclasses``' table for eq=True: a frozen class gets a hash of its
    # fields, another is unhashable; a ``__hash__`` of the class body stays.
    if not explicit_hash:
        if frozen:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            _set(cls, "__hash__", _hash_fn(_key(hashed)))
        else:
            cls.__hash__ = None  # type: ignore[assignment]
    return cls


class _Factory:
    """The default of a parameter whose field has a ``default_factory``."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _init_fn(cls: type, fields: tuple[dataclasses.Field[Any], ...],
             frozen: bool) -> Callable[..., None]:
    """The ``__init__`` ``dataclasses`` would give ``cls`` (a frozen class's
    sets its fields with ``object.__setattr__``), compiled in one piece."""
    if any(f.kw_only is True for f in fields) or any(
            f not in fields for f in cls.__dataclass_fields__.values()  # type: ignore[attr-defined]
            if f._field_type is not dataclasses._FIELD_CLASSVAR):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__qualname__}: thb_search.dataclass makes no InitVar or "
                        "keyword-only fields; use dataclasses.dataclass for this class")
    given: dict[str, Any] = {"__object_setattr": object.__setattr__, "__factory": _FACTORY}
    params, lines, defaulted = ["self"], [], False
    for f in fields:
        factory = f.default_factory is not dataclasses.MISSING
        if factory or f.default is not dataclasses.MISSING:
            given[f"__dflt_{f.name}"] = f.default_factory if factory else f.default
        if f.init:
            if factory or f.default is not dataclasses.MISSING:
                defaulted = True
                params.append(f"{f.name}=__factory" if factory else f"{f.name}=__dflt_{f.name}")
            elif defaulted:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            else:
                params.append(f.name)
            value = (f"__dflt_{f.name}() if {f.name} is __factory else {f.name}" if factory
                     else f.name)
        elif factory:
            value = f"__dflt_{f.name}()"
        elif f.default is not dataclasses.MISSING:
            value = f"__dflt_{f.name}"
        else:
            continue  # (no default and not a parameter: not set, as ``dataclasses`` does)
        lines.append(f"__object_setattr(self, {f.name!r}, {value})" if frozen
                     else f"self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        lines.append("self.__post_init__()")
    source = (f"def __create_fn__({', '.join(given)}):\n"
              f" def __init__({', '.join(params)}):\n"
              + "".join(f"  {line}\n" for line in lines or ["pass"])
              + " return __init__")
    annotations = {**{f.name: f.type for f in fields if f.init}, "return": None}

    def made() -> Callable[..., None]:
        module = sys.modules.get(cls.__module__)
        namespace: dict[str, Any] = {}
        exec(source, module.__dict__ if module is not None else {}, namespace)
        init: Callable[..., None] = namespace["__create_fn__"](**given)
        init.__annotations__ = annotations
        _set(cls, "__init__", init)
        return init

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        made()(self, *args, **kwargs)  # (the first object: compiled now, then in place)

    return __init__


def _setattr_fn(cls: type, names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)
    return __setattr__


def _delattr_fn(cls: type, names: frozenset[str]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)
    return __delattr__


def _set(cls: type, name: str, fn: Callable[..., Any]) -> None:
    fn.__name__ = name
    fn.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, fn)


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A tuple of these attributes of an object (as ``dataclasses`` compares
    and hashes them: ``(self.a, self.b)``)."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return attrgetter(*names)


def _repr_fn(names: tuple[str, ...]) -> Callable[[Any], str]:
    @recursive_repr()
    def __repr__(self: Any) -> str:
        return (f"{self.__class__.__qualname__}("
                + ", ".join(f"{name}={getattr(self, name)!r}" for name in names) + ")")
    return __repr__


def _eq_fn(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented
    return __eq__


def _hash_fn(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))
    return __hash__
