"""The channel-conflict model: population, agents, policy, ledger and the weekly loop."""
