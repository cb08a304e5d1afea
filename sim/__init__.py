"""channel-sim: an agent-based channel-conflict simulation engine.

The Python API mirrors the command line::

    import sim
    results = sim.run("scenarios/direct_shift.yaml", replications=5)
    results.timeseries  # one row per replication x week
    results.summary     # one row per replication
    sim.sweep("scenarios/direct_shift.yaml", replications=1)  # .sensitivity
    sim.load_results("results/direct_shift")
"""

from sim.experiments.study import compare, run
from sim.experiments.sweep import sweep
from sim.model.model import ChannelModel
from sim.results.store import Results, load_results
from sim.scenario.loader import ScenarioError, load_scenario

__all__ = [
    "ChannelModel",
    "Results",
    "ScenarioError",
    "compare",
    "load_results",
    "load_scenario",
    "run",
    "sweep",
]
