"""The VLM judge: logit-based verdicts, bidirectional order swap, a content cache, and
backends for transformers (CPU/GPU in-process) and vLLM (OpenAI-compatible server)."""

from ontask.judge.backends import OpenAIBackend, ScoreRequest, TransformersBackend
from ontask.judge.cache import JudgmentCache, judgment_key
from ontask.judge.judge import Judge, JudgeInput, JudgeInputError, Judgment

__all__ = [
    "Judge",
    "JudgeInput",
    "JudgeInputError",
    "Judgment",
    "JudgmentCache",
    "OpenAIBackend",
    "ScoreRequest",
    "TransformersBackend",
    "judgment_key",
]
