"""Feedback: the correction message and its validation, sending it to Kafka, the collector that
keeps the prioritised buffer, and each sync cycle's data.

Names are imported on first use: sending a correction (`ontask.feedback.producer`) is light (the
capture agent sends one from a user's desktop), the collector and the cycles pull in the store
and the dataset code."""

from __future__ import annotations

from ontask.lazy_names import lazy_names

_HOMES = {
    "Buffer": "buffer",
    "Collector": "collector",
    "DEFAULT_TOPIC": "producer",
    "Entry": "buffer",
    "InvalidCorrection": "messages",
    "assemble_cycle": "cycle",
    "cycle_due": "cycle",
    "encode_correction": "messages",
    "image_bytes": "messages",
    "make_correction": "producer",
    "parse_correction": "messages",
    "priority": "buffer",
    "send": "producer",
}

__all__, __getattr__ = lazy_names(__name__, _HOMES)
