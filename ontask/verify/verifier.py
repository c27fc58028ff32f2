"""The rule-based visual verifier: fast, deterministic evidence for a (screenshot, task).

Evidence comes from the window metadata sent with the screenshot when there is any, else
from OCR of title and URL bars. Rules categorise the focused window (deepest match wins),
known distractions pull the score down, task keywords found in the window's text pull it up,
and a session's recent frames smooth a lone off-task frame. The result is P(on-task) in [0,1]
with the evidence that produced it, so every verdict can be explained."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Optional

from PIL import Image

from ontask.labels import label_of
from ontask.verify.config import VerifierConfig
from ontask.verify.relevance import relevance
from ontask.verify.rules import categorize, is_under
from ontask.verify.temporal import adjust_with_history


@dataclass
class Verdict:
    score: float  # P(on-task)
    evidence: list[dict[str, Any]]
    source: str  # "metadata" | "ocr" | "ocr-partial" (OCR stopped at its time budget) | "none"
    windows: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return label_of(self.score)


def _window_text(w: dict[str, Any]) -> str:
    # A page's text read by OCR (where the title says little) counts as the window's own words.
    return " ".join(str(w.get(k) or "") for k in ("title", "url", "pageText"))


def score_windows(task: str, windows: list[dict[str, Any]], cfg: VerifierConfig) -> tuple[float, list[dict]]:
    """P(on-task) from window evidence alone (a pure function), with the evidence used."""
    if not windows:
        return 0.5, [{"rule": "no-evidence", "text": "no window information"}]
    focused = next((w for w in windows if w.get("focused")), windows[0])
    evidence: list[dict[str, Any]] = []
    match = categorize(focused, cfg.rules)
    rel, hits = relevance(task, _window_text(focused), cfg.synonyms)
    if match:
        evidence.append({"rule": f"category:{match.name}", "field": match.field, "text": match.text})
    if focused.get("pageText"):
        evidence.append({"rule": "page-text", "text": f"read by OCR near the page's top: {focused['pageText']}"})
    if hits:
        evidence.append({"rule": "task-keywords", "text": ", ".join(hits)})
    task_rel_to_category = match is not None and relevance(task, " ".join(match.category), cfg.synonyms)[0] > 0
    if match and is_under(match.category, cfg.distractions) and not task_rel_to_category:
        tutorial = "tutorial" in _window_text(focused).lower()
        score = 0.1 + (0.6 if (rel > 0 and tutorial) else 0.25 * rel)
        evidence.append(
            {"rule": "distraction", "text": match.name + (" (a tutorial on the task)" if tutorial and rel else "")}
        )
    elif match and match.category[0] == "Work":
        score = 0.3 + 0.65 * rel
    else:
        score = 0.4 + 0.5 * rel
    background = [w for w in windows if w is not focused]
    for w in background:
        m = categorize(w, cfg.rules)
        if m and is_under(m.category, cfg.distractions):
            score -= 0.05
            evidence.append({"rule": "background-distraction", "text": f"{m.name}: {w.get('title', '')}"})
            break
    return min(1.0, max(0.0, score)), evidence


class Verifier:
    """Verdicts with evidence; keeps a short score history per session for temporal smoothing."""

    def __init__(self, config: VerifierConfig, ocr=None):
        self.config = config
        self._ocr = ocr
        self._history: dict[str, deque] = defaultdict(lambda: deque(maxlen=self.config.history))
        self._lock = threading.Lock()

    @property
    def ocr(self):
        if self._ocr is None:
            from ontask.verify.ocr import TitleReader

            self._ocr = TitleReader()
        return self._ocr

    def verify(
        self,
        task: str,
        image: Optional[Image.Image] = None,
        windows: Optional[list[dict]] = None,
        session_id: Optional[str] = None,
    ) -> Verdict:
        """P(on-task) and its evidence; OCR supplies the windows when none are given."""
        if not task or not task.strip():
            raise ValueError("empty task description")
        source = "metadata"
        if not windows:
            if image is None:
                windows, source = [], "none"
            else:
                reading = self.ocr.read(image)
                windows, source = reading.windows, "ocr" if reading.complete else "ocr-partial"
        score, evidence = score_windows(task, windows, self.config)
        if session_id:
            with self._lock:
                history = self._history[session_id]
                adjusted = adjust_with_history(list(history), score, self.config.neighbour_weight)
                history.append(score)
            if adjusted != score:
                evidence.append(
                    {
                        "rule": "temporal",
                        "text": f"lone off-task frame after an on-task run: {score:.2f} -> {adjusted:.2f}",
                    }
                )
                score = adjusted
        return Verdict(score, evidence, source, windows)
