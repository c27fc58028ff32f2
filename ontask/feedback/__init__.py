"""Feedback: the correction message, its validation, and sending it to Kafka."""

from ontask.feedback.messages import InvalidCorrection, encode_correction, image_bytes, parse_correction
from ontask.feedback.producer import DEFAULT_TOPIC, make_correction, send

__all__ = ["DEFAULT_TOPIC", "InvalidCorrection", "encode_correction", "image_bytes", "make_correction",
           "parse_correction", "send"]
