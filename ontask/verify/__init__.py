"""Rule-based visual verification: window evidence (metadata or OCR), ActivityWatch-style
category rules, task relevance, distractions, temporal consistency."""

from ontask.verify.verifier import Verdict, Verifier, VerifierConfig, score_windows

__all__ = ["Verdict", "Verifier", "VerifierConfig", "score_windows"]
