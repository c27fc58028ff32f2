"""Qwen2.5-VL checkpoints: the tiny offline builder and the loader shared with real models."""

from transformers.utils import logging as _hf_logging

# Per-shard progress bars drown the project's own progress output (and CI logs).
_hf_logging.disable_progress_bar()
