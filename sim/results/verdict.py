"""The verdict of a comparison: each variant against the scenario as written, in words.

Read by the command line (after ``compare``) and by the report's first section, so both say the
same thing. A variant is better or worse only where its paired 95% interval excludes zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import metrics
from sim.metrics import Unit

if TYPE_CHECKING:
    import pandas as pd

SCALES: dict[str, tuple[float, str]] = {
    Unit.CURRENCY: (1e6, "M"),
    Unit.SHARE: (0.01, "%"),
    Unit.RATIO: (0.01, "%"),
    Unit.UNITS: (1e3, "k"),
    Unit.INCIDENTS: (1e3, "k"),
}
"""Divisor and suffix of each unit where people read a number (others as they are): the
command line's headline table and the verdict."""


def display_scale(unit: Unit, value: float) -> tuple[float, str]:
    """Divisor and suffix to show ``value`` of ``unit`` in plain figures, never e-notation.

    The unit's scale in :data:`SCALES`, stepped down by thousands (M, k, none) while
    ``value`` would show below 1 there: money of about 4,022 shows as ``4.02k``, not
    ``0.00M``. Shares stay in percent.
    """
    scale, suffix = SCALES.get(unit, (1.0, ""))
    steps = {1e6: "M", 1e3: "k", 1.0: ""}
    while scale in steps and scale > 1.0 and abs(value) < scale:
        scale /= 1e3
        suffix = steps[scale]
    return scale, suffix


VERDICT_METRIC = "npv_contribution_with_terminal"
"""The decision metric of the verdict: NPV of contribution with the terminal value, so a plan
that loses accounts late does not look free (SPEC §6)."""
VERDICT_PARTS: tuple[str, str] = ("npv_contribution", "terminal_value")
"""What the decision metric adds up, said first: the weeks simulated, then the value beyond."""
VERDICT_CONTEXT: tuple[str, ...] = ("churn_rate_annual", "distributor_exit_share")
"""What the verdict says beside it: churn and distributors' exits."""


def verdict_lines(comparison: pd.DataFrame, baseline: str) -> list[str]:
    """Each variant against ``baseline`` on :data:`VERDICT_METRIC`, and the best one.

    A variant is better or worse only where its paired 95% interval excludes zero; the others
    are "not told apart" by the replications.
    """
    rows = comparison[comparison["metric"] == VERDICT_METRIC]
    if rows.empty:
        return []
    lines = [
        f"verdict: {metrics.label(VERDICT_METRIC)}, each variant against {baseline!r} (the"
        " scenario as written); paired difference [95% CI]"
    ]
    context = comparison.set_index(["variant", "metric"])
    for row in rows.itertuples():
        if row.distinguishable:
            winner = row.variant if row.mean_difference > 0 else baseline
            judgement = f"{winner} is better"
        else:
            judgement = "not told apart"
        parts, others = (
            "; ".join(
                f"{_in_a_sentence(metrics.label(name))} "
                f"{_signed(context.loc[(row.variant, name)], name)}"
                for name in names
                if (row.variant, name) in context.index
            )
            for names in (VERDICT_PARTS, VERDICT_CONTEXT)
        )
        judgement += _resting_on_terminal_value(row, context)
        lines.append(
            f"  {row.variant}: "
            + (f"{parts}; with terminal value " if parts else "")
            + f"{_signed(row, VERDICT_METRIC)} ({judgement}; n = {row.n})"
            + (f"; {others}" if others else "")
        )
    winners = rows[rows["distinguishable"] & (rows["mean_difference"] > 0)]
    if winners.empty:
        lines.append(f"  no variant beats {baseline!r} by more than the replications' noise")
    else:
        best = winners.loc[winners["mean_difference"].idxmax()]
        lines.append(f"  best: {best['variant']} ({_signed(best, VERDICT_METRIC)})")
    return lines


def _resting_on_terminal_value(row: Any, context: pd.DataFrame) -> str:
    """``", only with the terminal value"`` where the weeks simulated do not say the same.

    That is where the decision metric tells the variants apart but the NPV of the weeks
    simulated does not, or points the other way: the finding rests on the customer equity
    at the horizon, an extrapolation (docs/ODD.md, "Terminal value").
    """
    key = (row.variant, VERDICT_PARTS[0])
    if not row.distinguishable or key not in context.index:
        return ""
    simulated = context.loc[key]
    agrees = simulated["distinguishable"] and (simulated["mean_difference"] > 0) == (
        row.mean_difference > 0
    )
    return "" if agrees else ", only with the terminal value"


def _in_a_sentence(label: str) -> str:
    """A label inside a sentence: its first letter in lower case, unless it starts an acronym."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def _signed(row: Any, metric: str) -> str:
    """``+1.2 M [0.4, 2.0]``: a paired difference and its interval in the metric's unit."""
    unit = metrics.SUMMARY_BY_NAME[metric].unit
    scale, suffix = SCALES.get(unit, (1.0, ""))
    low, high = row.ci_low / scale, row.ci_high / scale
    return f"{row.mean_difference / scale:+,.2f}{suffix} [{low:+,.2f}, {high:+,.2f}]"
