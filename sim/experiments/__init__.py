"""Experiments: pure runs, executors, studies (run, compare, sweep) and their statistics."""
