"""The options of ``run``, ``compare`` and ``sweep``, declared once.

:class:`StudyOptions` holds each option's name, type, default and help. The Python API
(:func:`with_options`) and the command line (``sim.cli``) both build their parameters from
it, so a new option is one field here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints


def about(help: str, **cli: Any) -> dict[str, Any]:
    """Metadata of a :class:`StudyOptions` field: its help and command-line details.

    ``cli`` may hold ``flag`` (the option's name on the command line, default
    ``--<name>``), ``cli_type`` (when the command line parses another type than the Python
    API takes) and the constraint ``min``.
    """
    return {"help": help, **cli}


@dataclass(frozen=True, kw_only=True)
class StudyOptions:
    """How to run a study; every field is a keyword of ``sim.run`` and a flag of the CLI."""

    overrides: Sequence[str] | None = field(
        default=None,
        metadata=about(
            "Override a key: key.path=value (value read as YAML). Repeatable.",
            flag="--set",
            cli_type=list[str] | None,
        ),
    )
    replications: int | None = field(
        default=None, metadata=about("Replications (default: the scenario's).", min=1)
    )
    seed: int | None = field(
        default=None, metadata=about("Root seed (default: the scenario's).", min=0)
    )
    out: str | Path | None = field(
        default=None,
        metadata=about("Results folder (default: results/<scenario name>).", cli_type=Path | None),
    )
    workers: int = field(default=1, metadata=about("Local worker processes.", min=1))
    scheduler: str | None = field(
        default=None, metadata=about("Dask scheduler address, e.g. tcp://127.0.0.1:8786.")
    )
    overwrite: bool = field(
        default=False,
        metadata=about(
            "Replace the results already in the output folder (needed when they belong to "
            "another resolved scenario)."
        ),
    )


OPTIONS: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(StudyOptions)
"""The declared options, in order."""

OPTION_TYPES: dict[str, Any] = get_type_hints(StudyOptions)
"""Each option's Python type (the fields' annotations are strings until resolved)."""

ProgressHook = Callable[[int, int], None]
"""Called with (runs finished, runs in total) as runs finish."""


def with_options(study: Callable[..., Any]) -> Callable[..., Any]:
    """Expose ``study(scenario, options, progress)`` as ``f(scenario, *, <options>, progress)``.

    The wrapper takes every option of :class:`StudyOptions` as a plain keyword-only argument
    (``sim.run(path, replications=5)``); its signature and docstring list them.
    """

    @functools.wraps(study)
    def wrapper(scenario: Any, /, *, progress: ProgressHook | None = None, **options: Any) -> Any:
        return study(scenario, StudyOptions(**options), progress=progress)

    keywords = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=f.default,
            annotation=OPTION_TYPES[f.name],
        )
        for f in OPTIONS
    ]
    progress = inspect.Parameter(
        "progress", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="ProgressHook | None"
    )
    first = next(iter(inspect.signature(study).parameters.values()))
    wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [first.replace(kind=inspect.Parameter.POSITIONAL_ONLY), *keywords, progress],
        return_annotation=inspect.signature(study).return_annotation,
    )
    wrapper.__doc__ = f"{inspect.cleandoc(study.__doc__ or '')}\n\n{_options_doc()}"
    return wrapper


def _options_doc() -> str:
    lines = ["Options (keyword-only)", "----------------------"]
    for f in OPTIONS:
        lines += [
            f"{f.name} : {f.type}, default {f.default!r}",
            f"    {f.metadata['help']}",
        ]
    lines += ["progress : callable, optional", "    Called with (runs finished, runs in total)."]
    return "\n".join(lines)
