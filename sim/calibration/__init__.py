"""Calibrate buyers from an order extract (placeholder docstring)."""
