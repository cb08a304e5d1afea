"""How the report writes a number a person reads: money with k/M, shares in percent."""

from __future__ import annotations


def money(value: float) -> str:
    """``1.23 M``, ``45.6 k``, ``789`` (currency units); ``–`` for NaN."""
    if value != value:  # NaN
        return "–"
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if size >= 1e3:
        return f"{value / 1e3:,.1f} k"
    return f"{value:,.0f}"


def share(value: float) -> str:
    """``12.3%`` of a share in [0, 1]; ``–`` for NaN."""
    return "–" if value != value else f"{value * 100:.1f}%"
