"""Benchmarks: each figure printed side by side with the peer it is measured against."""
