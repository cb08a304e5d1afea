"""Write a calibration: a scenario that extends another, and ``calibration.json`` beside it.

The scenario sets only what the data determines; every fitted value carries a YAML comment
with its standard error and the data it came from. Segment entries are written whole (lists
replace inherited values when scenarios merge), their other settings copied from the extended
scenario's segment and marked as inherited. Both files are written to temporary names,
the scenario is validated with :func:`sim.scenario.loader.load_scenario`, and only then are
both moved into place, so a failure never leaves half a calibration behind.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.calibration.bgnbd import NAMES
from sim.calibration.consistency import observe
from sim.calibration.fit import Calibration, SegmentFit, as_observed
from sim.calibration.orders import OrderDataError
from sim.scenario.loader import ScenarioError, load_scenario
from sim.scenario.schema import CHANNELS, Scenario

Line = tuple[int, str, Any, str]
"""(indent, key, value or None for a parent, comment)."""


def write_calibration(
    calibration: Calibration, out: Path, *, extends: Path, base: Scenario
) -> Path:
    """Write ``out`` (scenario YAML) and ``calibration.json`` beside it; return the JSON path.

    The scenario is written twice: the second time as the model observes the data
    (:mod:`sim.calibration.consistency`): need rate and spend potential divided by the share of
    needs the model's channels win, and dropout referred to the model's own mean effort.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = out.with_name("calibration.json")
    parent = Path(os.path.relpath(Path(extends).resolve(), out.parent.resolve())).as_posix()
    temporary = {path: path.with_name(f".{path.name}.partial") for path in (out, report)}

    def stage(fitted: Calibration) -> Scenario:
        temporary[out].write_text(
            scenario_text(fitted, name=_name(out), extends=parent, base=base), encoding="utf-8"
        )
        text = json.dumps(_clean(diagnostics(fitted, extends=parent)), indent=1) + "\n"
        temporary[report].write_text(text, encoding="utf-8")
        return load_scenario(temporary[out])

    try:
        weeks = max(1, round((calibration.until - calibration.orders.first_day).days / 7))
        stage(as_observed(calibration, observe(stage(calibration), weeks)))
        for path, staged in temporary.items():
            staged.replace(path)
    except ScenarioError as exc:
        raise OrderDataError(f"{out}: the calibrated scenario does not validate: {exc}") from None
    finally:
        for path in temporary.values():
            path.unlink(missing_ok=True)  # only left over when something failed
    return report


def scenario_text(calibration: Calibration, *, name: str, extends: str, base: Scenario) -> str:
    """The calibrated scenario as commented YAML."""
    c = calibration
    data = _data_label(c)
    lines: list[Line] = [
        (0, "name", name, ""),
        (0, "description", f"Calibrated from {Path(c.orders.source).name}, {data}", ""),
        (0, "extends", extends, ""),
        (0, "market", None, ""),
        (1, "buyers", c.buyers, "expected active accounts at the cut-off: sum of BG/NBD "
         f"P(alive) over {len(c.customers)} customers; {data}"),
        (1, "inbound_accounts_annual", round(c.inbound.per_account_annual, 6),
         f"SE {c.inbound.se:.3g} (Poisson); {c.inbound.new_customers} first orders in the "
         f"{c.inbound.window_weeks:g} weeks before {c.until.date()}, per active account a year"),
        (1, "prospects", _prospects(c, base),
         f"the extended scenario's {base.market.prospects / base.market.buyers:.3g} per account "
         f"plus the inbound wins over its {base.horizon_weeks} weeks (docs/calibration.md §6)"),
        (1, "segments", None, f"segments: {c.segment_source}"),
    ]  # fmt: skip
    shares = _exact_shares([s.active_expected for s in c.segments])
    for fit, share in zip(c.segments, shares, strict=True):
        lines += _segment_lines(fit, share, base, data)
    lines += _rep_lines(c.buyers, base)
    if c.distributors is not None:
        lines += [
            (0, "distributors", None, ""),
            (
                1,
                "accounts_per_distributor",
                round(c.buyers / c.distributors, 3),
                f"buyers per distinct value of 'distributor'; {data}",
            ),
        ]
    header = (
        f"# Written by `channel-sim calibrate`; fitted values carry their standard error (SE)\n"
        f"# and data; everything else comes from {extends}. Method: docs/calibration.md.\n"
    )
    return header + "".join(_render(*line) for line in lines)


def _prospects(c: Calibration, base: Scenario) -> int:
    """Prospects enough for the fitted inbound rate over the horizon, plus prospecting's pool.

    Inbound wins draw on ``market.prospects`` (docs/ODD.md §7.9); a pool that runs dry stops
    them, the firm shrinks and its distributors read the falling sales as volume leaving.
    """
    inbound = c.inbound.per_account_annual * c.buyers * base.horizon_weeks / 52.0
    return round(c.buyers * base.market.prospects / base.market.buyers + inbound)


def _rep_lines(buyers: int, base: Scenario) -> list[Line]:
    """Rep teams sized for the firm's accounts at the extended scenario's accounts per rep.

    A firm of 500 accounts does not have the baseline's 60 reps (:mod:`sim.scenario.sanity`).
    """
    lines: list[Line] = [(0, "reps", None, "")]
    for team in ("field", "inside"):
        count = getattr(base.reps, team).count
        if count:
            per_rep = base.market.buyers / count
            lines += [
                (1, team, None, ""),
                (2, "count", max(1, round(buyers / per_rep)),
                 f"the extended scenario's {per_rep:,.0f} accounts per rep"),
            ]  # fmt: skip
    return lines if len(lines) > 1 else []


def diagnostics(calibration: Calibration, *, extends: str) -> dict[str, Any]:
    """The content of ``calibration.json``: fits, counts, drops and the per-customer summary."""
    c = calibration
    customers = c.customers.reset_index()
    customers["first_order"] = customers["first_order"].dt.strftime("%Y-%m-%d")
    return {
        "source": c.orders.source,
        "until": str(c.until.date()),
        "extends": extends,
        "data": {
            "rows_read": c.orders.rows_read,
            "rows_dropped": c.orders.dropped,
            "lines_kept": len(c.orders.lines),
            "lines_before_until": c.lines_used,
            "lines_from_until_on": c.lines_after_cutoff,
            "first_day": str(c.orders.first_day.date()),
            "last_day": str(c.orders.last_day.date()),
            "customers_before_until": len(c.customers),
        },
        "time_unit": "week; week 0 = the 7 days from first_day",
        "segment_source": c.segment_source,
        "segments": [_segment_report(s) for s in c.segments],
        "buyers": c.buyers,
        "inbound": vars(c.inbound),
        "distributors": c.distributors,
        "customers": {col: customers[col].tolist() for col in customers.columns},
    }


# --------------------------------------------------------------------------- segments


def _segment_lines(fit: SegmentFit, share: float, base: Scenario, data: str) -> list[Line]:
    template = next(s for s in base.market.segments if s.name == fit.template)
    inherited = f"inherited from segment {template.name!r}"
    bg = fit.purchase
    spend = fit.spend
    sigma = min(spend.account_sigma, 3.0)
    preference, channels = _channel_preference(fit, template, base)
    mix_note = f"share of spend by product; {data}" if fit.product_mix else inherited
    won = (
        f" / {fit.won_share:.3f}, the share of needs our channels win in the model"
        if fit.won_share < 1.0
        else ""
    )
    return [
        (2, "- name", fit.name, f"{fit.customers} customers"),
        (3, "share", share, f"share of expected active accounts ({fit.active_expected:.1f})"),
        (3, "spend_annual", _sig(fit.spend_annual / fit.won_share),
         f"SE {fit.spend_annual_se / fit.won_share:.3g}; orders a year x mean order value "
         f"({spend.model}), amounts taken at list price{won}"),
        (3, "spend_sigma", _sig(sigma),
         f"{spend.model}: lognormal sigma with the accounts' CV of mean order value"
         + (" (capped at 3)" if sigma < spend.account_sigma else "")),
        (3, "orders_per_year", _sig(fit.orders_per_year / fit.won_share),
         f"SE {fit.orders_per_year_se / fit.won_share:.3g}; needs per product line a year = "
         f"52 r/alpha x product lines per order / product lines bought{won}"),
        (3, "product_mix", _rounded_mix(fit.product_mix or template.product_mix), mix_note),
        (3, "channel_preference", preference,
         "log share of order lines by channel" if fit.channel_share else inherited),
        (3, "channels", channels, "channels seen in the data" if fit.channel_share else inherited),
        (3, "digital_adopters_initial",
         _sig(fit.digital_adopters) if fit.digital_adopters is not None
         else template.digital_adopters_initial,
         "share of customers with an e-commerce order" if fit.digital_adopters is not None
         else inherited),
        (3, "do_not_email", template.do_not_email, inherited),
        (3, "purchase_process", None,
         f"BG/NBD, LL {bg.log_likelihood:.1f}, converged {bg.converged}; {data}"),
        (4, "order_rate_shape", _sig(bg["r"]), f"r, SE {bg.se('r'):.3g}; "
         f"alpha = {bg['alpha']:.4g} weeks (SE {bg.se('alpha'):.3g})"),
        (4, "dropout_a", _sig(bg["a"]), f"a, SE {bg.se('a'):.3g}"),
        (4, "dropout_b", _sig(bg["b"]), f"b, SE {bg.se('b'):.3g}"),
        (4, "reference_effort", round(fit.reference_effort, 4),
         "the model's mean customer effort over the calibration period: the effort at which "
         "the fitted dropout was observed"),
    ]  # fmt: skip


def _channel_preference(
    fit: SegmentFit, template: Any, base: Scenario
) -> tuple[dict[str, float], list[str]]:
    """Logit constants reproducing the data's channel shares at list-relative prices.

    ``ln(share) + price_weight x (realisation - 1)`` undoes the price term the engine adds,
    centred on the channels seen; relationship, habit, effort and e-commerce adoption are
    left to the engine (first-order mapping, docs/calibration.md).
    """
    if not fit.channel_share:
        return template.channel_preference.model_dump(), list(template.channels)
    weight = base.market.choice.price_weight
    utility = {
        c: math.log(s) + weight * (getattr(base.channels, c).price_realisation - 1.0)
        for c, s in fit.channel_share.items()
    }
    centre = float(np.mean(list(utility.values())))
    preference: dict[str, float] = {c: round(utility.get(c, centre) - centre, 4) for c in CHANNELS}
    return preference, [c for c in CHANNELS if c in fit.channel_share]


def _segment_report(fit: SegmentFit) -> dict[str, Any]:
    bg = fit.purchase
    return {
        "name": fit.name,
        "template": fit.template,
        "customers": fit.customers,
        "active_expected": fit.active_expected,
        "bgnbd": bg.as_dict() | {"covariance": bg.covariance, "order": list(NAMES)},
        "spend": {
            "model": fit.spend.model,
            "mean_order_value": fit.spend.mean_order_value,
            "mean_order_value_se": fit.spend.mean_order_value_se,
            "account_sigma": fit.spend.account_sigma,
        }
        | fit.spend.diagnostics,
        "orders_per_year": fit.orders_per_year,
        "orders_per_year_se": fit.orders_per_year_se,
        "spend_annual": fit.spend_annual,
        "spend_annual_se": fit.spend_annual_se,
        "won_share": fit.won_share,
        "reference_effort": fit.reference_effort,
        "product_mix": fit.product_mix,
        "channel_share": fit.channel_share,
        "digital_adopters": fit.digital_adopters,
        "mean_dropout_per_order": bg["a"] / (bg["a"] + bg["b"]),
    }


# --------------------------------------------------------------------------- formatting


def _render(indent: int, key: str, value: Any, comment: str) -> str:
    pad = "  " * indent
    text = f"{pad}{key}:" + ("" if value is None else f" {_scalar(value)}")
    return f"{text}  # {comment}\n" if comment else text + "\n"


def _scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


def _sig(value: float) -> float:
    return float(f"{value:.6g}")


def _exact_shares(weights: list[float]) -> list[float]:
    """Shares rounded to 6 decimals that still sum to exactly 1 (the schema checks 1e-6)."""
    total = sum(weights)
    shares = [round(w / total, 6) for w in weights]
    shares[-1] = round(1.0 - sum(shares[:-1]), 6)
    return shares


def _rounded_mix(mix: Mapping[str, float]) -> dict[str, float]:
    return dict(zip(mix, _exact_shares(list(mix.values())), strict=True))


def _data_label(c: Calibration) -> str:
    return (
        f"{c.lines_used} lines, {len(c.customers)} customers, "
        f"{c.orders.first_day.date()} to {(c.until - np.timedelta64(1, 'D')).date()}"
    )


def _name(out: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", out.stem) or "calibrated"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
