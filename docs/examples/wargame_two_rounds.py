"""The worked two-round war-game of docs/wargame.md, played from Python.

Three teams (our firm and two distributors) on the direct-shift case, the whole firm, two
rounds of a quarter. The decisions are the ones the guide's teams enter on their pages;
the game, its files and report.html are the same as if they had clicked them.

    python docs/examples/wargame_two_rounds.py [OUT_DIR]     # default results/wargame_example
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

import sim.wargame as wg

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "direct_shift.yaml"

ROUNDS = [
    {  # weeks 1-13: the plan's moves are announced for week 13
        "manufacturer": {
            "distributor_referral_fee": 0.05,
            "announcement": "From week 13 small-business valves and consumables go online; "
            "we pay 5% of that revenue to the distributor who had the account.",
        },
        "distributor:0": {
            "markup": 0.35,
            "push_to_competitor": ["valves"],
            "announcement": "We move our valves customers to our other supplier.",
        },
        # distributor:1 leaves its first round to the model
    },
    {  # weeks 14-26: the move ramps up
        "manufacturer": {"deal_registration": True},
        "distributor:0": {"effort": 0.5, "exit": False},
        "distributor:1": {"markup": 0.25, "effort": 1.0},
    },
]


def main(out: Path) -> pd.DataFrame:
    """Play the two rounds into ``out`` (replaced); return the after-action figures."""
    shutil.rmtree(out, ignore_errors=True)
    game = wg.create(SCENARIO, out, roles="manufacturer,distributor:0,distributor:1", rounds=2)
    for decisions in ROUNDS:
        for role, decision in decisions.items():
            wg.submit(game, role, decision)
        wg.advance(game)
    return pd.read_csv(out / "review.csv")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "results" / "wargame_example"
    review = main(folder)
    margin = review[review["outcome"].str.endswith("contribution_margin")]
    shown = margin.pivot(index="team", columns="round", values="team_choices") / 1e3
    print("What each team's choices did to our contribution margin (thousand, game - without):")
    print(shown.round(1).to_string())
    own = review[review["outcome"] == "total_profit"]
    print("\nWhat each distributor's choices did to its own profit (thousand):")
    print((own.pivot(index="team", columns="round", values="team_choices") / 1e3).round(1))
    total = margin.drop_duplicates("round")["game_minus_model"].sum()
    print(f"\nAll choices together vs the model's own players: {total / 1e3:+,.1f} thousand")
    print(f"report: {folder / 'report.html'}")
