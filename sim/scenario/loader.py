"""Read scenario files: YAML, ``extends`` chains, ``--set`` overrides, variants.

A file is a :class:`~sim.scenario.schema.Study`: the scenario the model runs and, beside it,
the study design (:func:`load_study`); :func:`load_scenario` gives the scenario alone.
Validation happens once, here. Every user mistake becomes a :class:`ScenarioError` that names
the file the offending key came from, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim.scenario.customers import CustomerBaseError, read_customer_base
from sim.scenario.frozen import thaw
from sim.scenario.market import Market
from sim.scenario.schema import OutOfHorizonError, Scenario, Study, UnknownNameError

KeyPath = tuple[str, ...]
_KEY_PATH = re.compile(r"[A-Za-z_]\w*(\.\w+)+")
Origins = dict[KeyPath, str]
Document = TypeVar("Document", Scenario, Study)


class ScenarioError(ValueError):
    """A mistake in a scenario file or an override; the message is meant for the user."""


def load_study(path: str | Path, overrides: Iterable[str] = ()) -> Study:
    """Load, merge, override and validate a scenario file: its scenario and study design.

    Parameters
    ----------
    path
        YAML file; may ``extends:`` another file (relative to itself, or absolute).
    overrides
        ``key.path=value`` strings; each value is read as YAML.

    Raises
    ------
    ScenarioError
        For any problem with the file, its parents or the overrides.

    """
    raw, origins = load_raw(path, overrides)
    return validate_raw(raw, origins)


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """The scenario of :func:`load_study` (the file's study design is validated, then left out).

    Raises
    ------
    ScenarioError
        For any problem with the file, its parents or the overrides.

    """
    return load_study(path, overrides).scenario


def load_raw(path: str | Path, overrides: Iterable[str] = ()) -> tuple[dict[str, Any], Origins]:
    """Return the merged, overridden mapping and, for each key path, where it was set."""
    raw, origins = _read_with_parents(Path(path), chain=())
    overridden: set[KeyPath] = set()
    for text in overrides:
        key_path, value = parse_override(text)
        set_path(raw, key_path, value, source="--set")
        _record(origins, {key_path: "--set"})
        overridden.add(key_path)
    distributor_count_to_density(raw, overridden, source="--set")
    return raw, origins


def validate_raw(raw: Mapping[str, Any], origins: Origins | None = None) -> Study:
    """Validate a file's merged mapping into a :class:`Study`, translating schema errors.

    Every variant must give a valid scenario too.
    """
    return _validated(Study, raw, origins or {})


def _validated(model: type[Document], raw: Mapping[str, Any], origins: Origins) -> Document:
    """``raw`` as a ``model``; its customer base readable and, for a study, its variants valid."""
    try:
        document = model.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, origins, model)) from None
    scenario = document.scenario if isinstance(document, Study) else document
    if scenario.market.customer_base is not None:
        try:
            read_customer_base(
                scenario.market.customer_base, [s.name for s in scenario.market.segments]
            )
        except CustomerBaseError as exc:
            raise ScenarioError(f"market.customer_base: {exc}") from None
    if isinstance(document, Study):
        for name, changes in document.variants.items():
            variant_of(scenario, name, changes, origins)
    return document


def with_changes(
    document: Document,
    changes: Mapping[str, Any],
    *,
    source: str,
    origins: Origins | None = None,
) -> Document:
    """Return a validated copy of a scenario or a study with ``key.path: value`` changes applied.

    The only way to derive a changed scenario: the scenario itself never changes, and the
    copy is validated like a file (a study's variants included). A scenario's changes may
    not touch the study design (``variants``, ``sweep``, ...): it has none.

    Parameters
    ----------
    document
        A resolved :class:`Scenario` or :class:`Study`.
    changes
        ``{"market.buyers": 100, "policy.channel_plan.0.share": 0.5, ...}``; digits index
        into lists; values as read from YAML (lists, mappings, numbers, text).
    source
        Where the changes come from (``"--replications"``, ``"variants.fast"``); named in
        every error about them.
    origins
        Where the scenario's own keys were set (see :func:`load_raw`), to name in errors.

    Raises
    ------
    ScenarioError
        Naming ``source``, the key path, the bad value and what is allowed.

    """
    raw = document.model_dump(by_alias=True)
    origins = dict(origins or {})
    changed: set[KeyPath] = set()
    for key, value in changes.items():
        key_path = _split(key)
        set_path(raw, key_path, thaw(value), source=source)
        _record(origins, {key_path: source})
        changed.add(key_path)
    distributor_count_to_density(raw, changed, source=source)
    return _validated(type(document), raw, origins)


def variant_of(
    scenario: Scenario, name: str, changes: Mapping[str, Any], origins: Origins | None = None
) -> Scenario:
    """Return ``scenario`` with one variant's ``key.path: value`` changes applied.

    A variant is a scenario: it has no variants, sweep or other study design of its own.
    """
    defined_in = (origins or {}).get(("variants", name))
    source = f"{defined_in}: variants.{name}" if defined_in else f"variants.{name}"
    try:
        return with_changes(scenario, changes, source=source, origins=origins)
    except ScenarioError as exc:
        raise ScenarioError(f"variant {name!r}: {exc}") from None


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """Split ``key.path=value`` and read the value as YAML (numbers, booleans, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(f"--set {text!r}: expected key.path=value, e.g. --set seed=7")
    try:
        return _split(key.strip()), yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        problem = _yaml_problem(exc, lines=False)
        raise ScenarioError(f"--set {text!r}: the value is {problem}") from None


def set_path(tree: dict[str, Any], key_path: KeyPath, value: Any, *, source: str) -> None:
    """Set ``tree[k1][k2]...`` to ``value``, creating mappings; digits index into lists."""
    node: Any = tree
    for depth, key in enumerate(key_path[:-1]):
        node = _child(node, key, key_path[: depth + 1], source, create=True)
    last = key_path[-1]
    if isinstance(node, list):
        node[_index(node, last, key_path, source)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(
            f"{source}: {'.'.join(key_path)}: {'.'.join(key_path[:-1])} is a value, not a mapping"
        )


COUNT, DENSITY = ("distributors", "count"), ("distributors", "accounts_per_distributor")


def distributor_count_to_density(
    raw: dict[str, Any], written: set[KeyPath], *, source: str
) -> None:
    """Turn a ``distributors.count`` written in this layer into ``accounts_per_distributor``.

    A count means that many distributors at the ``market.buyers`` of the layer that gives it
    (a file with what it extends, or the overrides), converted to the density ``buyers /
    count`` there: a later, smaller ``market.buyers`` (``--set``, a variant, a sweep) keeps the
    density and simulates fewer distributors of the same size (docs/ODD.md §7.8).

    Parameters
    ----------
    raw
        The merged mapping, changed in place.
    written
        The key paths this layer set (a path covers the keys under it).
    source
        The layer, named in errors (a file path, ``--set``, ``variants.fast``).

    Raises
    ------
    ScenarioError
        Both keys in one layer; a count that is not a whole number >= 0; a count with
        ``market.customer_base`` (its accounts are not known here).
    """
    block = raw.get("distributors")
    if not isinstance(block, dict) or "count" not in block or not _covers(written, COUNT):
        return
    if "accounts_per_distributor" in block and _covers(written, DENSITY):
        raise ScenarioError(
            f"{source}: distributors: give count or accounts_per_distributor, not both "
            f"(got count {_short(block['count'])} and accounts_per_distributor "
            f"{_short(block['accounts_per_distributor'])})"
        )
    count = block.pop("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ScenarioError(
            f"{source}: distributors.count: {_short(count)} is not allowed; allowed: a whole "
            "number >= 0 (distributors at market.buyers)"
        )
    market: dict[str, Any] = raw["market"] if isinstance(raw.get("market"), dict) else {}
    if market.get("customer_base") is not None:
        raise ScenarioError(
            f"{source}: distributors.count: {count} with market.customer_base is not allowed; "
            "give distributors.accounts_per_distributor (customer accounts per distributor)"
        )
    buyers = market.get("buyers", Market.model_fields["buyers"].default)
    if isinstance(buyers, int) and not isinstance(buyers, bool) and buyers > 0:
        block["accounts_per_distributor"] = buyers / count if count else 0.0
    # Otherwise market.buyers is wrong and validation says so.


def _covers(written: set[KeyPath], key_path: KeyPath) -> bool:
    """Whether a layer that set ``written`` set ``key_path``.

    Itself, or a block holding it set as a whole (not a block a file merges key by key).
    """
    return key_path in written or any(
        key_path[: len(k)] == k and not any(w[: len(k)] == k and w != k for w in written)
        for k in written
    )


def merge(base: Any, override: Any) -> Any:
    """Merge ``override`` onto ``base``: mappings key by key, lists and scalars replace."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return override


# --------------------------------------------------------------------------- internals


def _read_with_parents(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Origins]:
    path = path.expanduser().resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(f"{path}: extends: cycle detected: {cycle}")
    data = _read_yaml(path)
    _anchor_customer_base(data, path.parent)
    parent_ref = data.pop("extends", None)
    written = set(_origins_of(data, str(path)))
    if parent_ref is None:
        distributor_count_to_density(data, written, source=str(path))
        return data, _origins_of(data, str(path))
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ScenarioError(f"{path}: extends: {parent_ref!r} is not a file path")
    parent_path = Path(parent_ref).expanduser()
    if not parent_path.is_absolute():
        parent_path = path.parent / parent_path
    if not parent_path.is_file():
        raise ScenarioError(f"{path}: extends: file not found: {parent_path}")
    parent, origins = _read_with_parents(parent_path, (*chain, path))
    _record(origins, _origins_of(data, str(path)))
    merged = merge(parent, data)
    distributor_count_to_density(merged, written, source=str(path))
    return merged, origins


def _anchor_customer_base(data: dict[str, Any], folder: Path) -> None:
    """Make a relative ``market.customer_base`` relative to the file that names it."""
    market = data.get("market")
    if isinstance(market, dict) and isinstance(market.get("customer_base"), str):
        market["customer_base"] = str((folder / market["customer_base"]).expanduser().resolve())


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        problem = "is a folder, not a scenario file" if path.is_dir() else "scenario file not found"
        raise ScenarioError(f"{path}: {problem}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: {_yaml_problem(exc)}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: the top level must be a mapping of keys, got {data!r:.80}")
    try:
        json.dumps(data, default=repr, skipkeys=True)  # finds cycles made with YAML aliases
    except ValueError:
        raise ScenarioError(f"{path}: a YAML alias (*name) refers to itself") from None
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ScenarioError(f"{path}: keys must be text, got {bad[0]!r}")
    return data


def _yaml_problem(exc: yaml.YAMLError, *, lines: bool = True) -> str:
    """``line L, column C: not valid YAML: <problem>`` (1-based), on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark and lines else ""
    began = getattr(exc, "context_mark", None)
    if (
        context
        and began is not None
        and lines
        and (began.line, began.column)
        != (
            getattr(mark, "line", None),
            getattr(mark, "column", None),
        )
    ):
        context += f" that began at line {began.line + 1}, column {began.column + 1}"
    detail = f"{problem} ({context})" if context else problem
    if "'\\t'" in problem:
        detail += "; indent with spaces, not tabs"
    return f"{where}not valid YAML: {detail}"


def _record(origins: Origins, layer: Origins) -> None:
    """Add a later layer's origins: its keys move to the end, so the order is the layers'."""
    for key_path in layer:
        origins.pop(key_path, None)
    origins.update(layer)


def _origins_of(data: Any, source: str, prefix: KeyPath = ()) -> Origins:
    origins: Origins = {prefix: source} if prefix else {}
    if isinstance(data, dict):
        for key, value in data.items():
            origins.update(_origins_of(value, source, (*prefix, str(key))))
    return origins


def _split(key: str) -> KeyPath:
    parts = tuple(key.split("."))
    if any(not p for p in parts):
        raise ScenarioError(f"key path {key!r} has an empty part")
    return parts


def _child(node: Any, key: str, at: KeyPath, source: str, *, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, key, at, source)]
    if not isinstance(node, dict):
        raise ScenarioError(f"{source}: {'.'.join(at)}: parent is a value, not a mapping")
    if key not in node or node[key] is None:
        node[key] = {}
    return node[key]


def _index(node: list[Any], key: str, at: KeyPath, source: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        allowed = f"0..{len(node) - 1}" if node else "none, the list is empty"
        raise ScenarioError(
            f"{source}: {'.'.join(at)}: {key!r} is not a list index; allowed: {allowed}"
        )
    return int(key)


def _describe(exc: ValidationError, origins: Origins, root: type[BaseModel]) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        if root is Study and loc[:1] == ("scenario",):
            loc = loc[1:]  # a file's scenario keys are at its top level
        where = _origin(loc, origins)
        key = ".".join(loc) or "(top level)"
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: {key}: {_unknown_key(loc, root)}")
        elif error["type"] == "missing":
            lines.append(f"{where}: {key}: required key is missing")
        elif isinstance(error.get("ctx", {}).get("error"), UnknownNameError):
            lines.append(_unknown_name(error["ctx"]["error"], loc, origins))
        elif isinstance(error.get("ctx", {}).get("error"), OutOfHorizonError):
            lines.append(_out_of_horizon(error["ctx"]["error"], loc, origins))
        else:
            message = error["msg"].removeprefix("Value error, ")
            head, sep, rest = message.partition(": ")
            if sep and _KEY_PATH.fullmatch(head):  # a cross-field check names the key it checked
                loc, message = (*loc, *head.split(".")), rest
                where, key = _origin(loc, origins), ".".join(loc)
            whole_block = error["type"] == "value_error" and isinstance(value, dict)
            got = "" if whole_block else f" (got {_short(value)})"
            lines.append(f"{where}: {key}: {message}{got}")
    return "\n".join(lines)


def _origin(loc: KeyPath, origins: Origins) -> str:
    at = _set_at(loc, origins)
    return _first(origins) if at is None else origins[at]


def _set_at(loc: KeyPath, origins: Origins) -> KeyPath | None:
    """The key path, ``loc`` or a block holding it, whose origin is recorded."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in origins:
            return loc[:end]
    return None


def _first(origins: Origins) -> str:
    return next(iter(origins.values()), "scenario")


def _unknown_name(error: UnknownNameError, loc: KeyPath, origins: Origins) -> str:
    """A name the defining list lacks: blame whichever of the two was written last.

    When the list (``products``, ``market.segments``) was set after the key naming it (a
    child file redefining ``products`` under a parent's ``product_mix``), the mistake is in
    the list's file: name it first, and where the name is used.
    """
    used = (*loc, *error.path.split("."))
    defined = tuple(error.defined_by.split("."))
    used_at, defined_at = _set_at(used, origins), _set_at(defined, origins)
    order = {key_path: i for i, key_path in enumerate(origins)}
    if (
        used_at is None
        or defined_at is None
        or origins[used_at] == origins[defined_at]
        or order[defined_at] < order[used_at]
    ):
        return f"{_origin(used, origins)}: {error}"
    return (
        f"{origins[defined_at]}: {error.defined_by}: has no {error.name!r}, which "
        f"{error.path} names (set in {origins[used_at]}); {error.defined_by} here: "
        f"{error.known}; add {error.name!r} to it or set {error.path} too"
    )


def _out_of_horizon(error: OutOfHorizonError, loc: KeyPath, origins: Origins) -> str:
    """A start week after the horizon, named where it was written, and the horizon if elsewhere.

    A horizon shortened in another layer (``--set horizon_weeks=...``, a child file) is as
    likely the mistake as the start week: the message then names both places.
    """
    start, horizon = (*loc, *error.path.split(".")), (*loc, "horizon_weeks")
    where = _origin(start, origins)
    if horizon not in origins:
        return f"{where}: {error} (horizon_weeks by default)"
    elsewhere = f" (horizon_weeks set in {origins[horizon]})" if origins[horizon] != where else ""
    return f"{where}: {error}{elsewhere}"


def _unknown_key(loc: KeyPath, root: type[BaseModel]) -> str:
    """Why the last key of ``loc`` is refused: renamed (and to what), or unknown."""
    model = _model_at(loc[:-1], root)
    if model is None:
        return "unknown key"
    design = Study.design_keys() if model is Study else ()
    if model is Study:
        model = Scenario  # a file's top level: the scenario's keys, then the design's
    renamed = getattr(model, "renamed_keys", {}).get(loc[-1])
    if renamed:
        new_path = ".".join((*loc[:-1], renamed))
        return f"renamed to {renamed!r} (see docs/ODD.md for its meaning); write {new_path} instead"
    allowed = [*(f.alias or name for name, f in model.model_fields.items()), *design]
    nearest = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
    guess = f"did you mean {'.'.join((*loc[:-1], nearest[0]))!r}? " if nearest else ""
    return f"unknown key; {guess}allowed keys here: {allowed}"


def _model_at(loc: KeyPath, root: type[BaseModel]) -> type[BaseModel] | None:
    """The schema block at key path ``loc`` (list indices skipped), if there is one."""
    model: Any = root
    for part in loc:
        if part.isdigit() or model is None:
            continue
        if model is Study and part not in Study.design_keys():
            model = Scenario
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
