"""``python -m sim``: the same as the ``channel-sim`` command."""

from sim.cli import main

main()
