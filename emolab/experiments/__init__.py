"""Experiments: cross-validated studies and measurements, kept apart from what ships."""
