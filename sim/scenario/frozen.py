"""Immutable, hashable collections for scenario fields.

A scenario is a plain value: equal scenarios compare and hash equal, and nothing in one can
be changed in place. Lists in YAML become tuples (:data:`Items`), mappings become
:class:`FrozenMap`, and free-form YAML values (a variant's changes) are frozen deeply
(:data:`YamlValue`). Dumped (``model_dump``), each turns back into the plain lists and dicts
it was read from, so the dump of a scenario is its YAML tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import AfterValidator, GetCoreSchemaHandler, PlainSerializer, WrapSerializer
from pydantic_core import core_schema

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """An immutable, hashable mapping that keeps its keys' order.

    Pydantic validates it from any mapping (``FrozenMap[str, float]`` checks keys and
    values) and dumps it as a ``dict``. Equality ignores order, as for ``dict``.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._items: Mapping[K, V] = MappingProxyType(dict(items))

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __reduce__(self) -> tuple[type[FrozenMap[K, V]], tuple[dict[K, V]]]:
        return type(self), (dict(self._items),)  # picklable: runs go to other processes

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self._items)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        key, value = get_args(source) or (Any, Any)
        as_dict = handler.generate_schema(dict[key, value])  # type: ignore[valid-type]
        return core_schema.no_info_after_validator_function(
            cls,
            as_dict,
            serialization=core_schema.plain_serializer_function_ser_schema(
                dict, return_schema=as_dict
            ),
        )


def freeze(value: Any) -> Any:
    """``value`` with every list made a tuple and every mapping a :class:`FrozenMap`, deeply."""
    if isinstance(value, Mapping):
        return FrozenMap((key, freeze(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain, mutable lists and dicts, as read from YAML."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value


def _as_list(value: tuple[Any, ...], handler: Any) -> list[Any]:
    return list(handler(value))


Items = Annotated[tuple[T, ...], WrapSerializer(_as_list)]
"""A YAML list held as a tuple; dumped as a list."""

YamlValue = Annotated[Any, AfterValidator(freeze), PlainSerializer(thaw)]
"""Any YAML value, frozen deeply; dumped as plain lists and dicts."""
