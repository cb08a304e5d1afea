"""Scenario files: typed schema and loader."""
