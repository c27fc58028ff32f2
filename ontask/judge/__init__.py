"""The VLM judge: logit-based verdicts, bidirectional order swap, a content cache, and
backends for transformers (CPU/GPU in-process) and vLLM (OpenAI-compatible server).

Names are imported on first use: the judge service's client (`ontask.judge.remote`) is light
(the data command line reads its options), the backends pull in torch."""

from __future__ import annotations

from ontask.lazy_names import lazy_names

_HOMES = {
    "Judge": "judge",
    "JudgeInput": "judge",
    "JudgeInputError": "judge",
    "Judgment": "judge",
    "JudgmentCache": "cache",
    "OpenAIBackend": "backends",
    "ScoreRequest": "backends",
    "TransformersBackend": "backends",
    "judgment_key": "cache",
}

__all__, __getattr__ = lazy_names(__name__, _HOMES)
