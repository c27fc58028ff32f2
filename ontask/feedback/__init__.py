"""Feedback: the correction message and its validation, sending it to Kafka, the collector that
keeps the prioritised buffer, and each sync cycle's data."""

from ontask.feedback.buffer import Buffer, Entry, priority
from ontask.feedback.collector import Collector
from ontask.feedback.cycle import assemble_cycle, cycle_due
from ontask.feedback.messages import InvalidCorrection, encode_correction, image_bytes, parse_correction
from ontask.feedback.producer import DEFAULT_TOPIC, make_correction, send

__all__ = [
    "Buffer",
    "Collector",
    "DEFAULT_TOPIC",
    "Entry",
    "InvalidCorrection",
    "assemble_cycle",
    "cycle_due",
    "encode_correction",
    "image_bytes",
    "make_correction",
    "parse_correction",
    "priority",
    "send",
]
