"""Evaluation: metrics, reports and side-by-side comparisons of systems."""
