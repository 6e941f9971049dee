"""Experiments: what the figures in docs/results come from (nothing here ships)."""
