"""Rule-based visual verification: window evidence (metadata or OCR), ActivityWatch-style
category rules, task relevance, distractions, temporal consistency; the rules' configuration,
which travels with a model version."""

from ontask.verify.config import (
    VerifierConfig,
    builtin_verifier_config,
    model_verifier_config,
    read_verifier_config,
)
from ontask.verify.verifier import Verdict, Verifier, score_windows

__all__ = [
    "Verdict",
    "Verifier",
    "VerifierConfig",
    "builtin_verifier_config",
    "model_verifier_config",
    "read_verifier_config",
    "score_windows",
]
