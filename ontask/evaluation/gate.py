"""The promotion gate: a cycle's candidate against the serving model on the same rows, and the
typed decision that the cycle job stores and the operator reads back.

Two slices decide, each compared row by row (both models answer the same rows, as served):
- `holdout`: the cycle's held-out corrections with their variants, rows neither model trained on
  (ontask.feedback.cycle holds whole corrections out). The candidate must gain at least
  `serving.promoteIfGain` there: it learned the corrected families, not the corrected rows.
- `regression`: the classifier's fixed, trusted validation rows (the half is_regression_row picks;
  the other half calibrates the candidate's hybrid). The candidate may lose at most
  `serving.maxRegression` there, and must not be significantly worse by an exact one-sided sign
  test on the rows where the two disagree (McNemar's), so a cycle never buys a family with the
  rest of the screens.
A missing slice refuses: a gate that cannot see a slice cannot vouch for it.
"""

from __future__ import annotations

import hashlib
from math import comb
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ontask.store import NotFound, Store
from ontask.store_paths import evaluation_key

FAMILY_SLICE = "holdout"
REGRESSION_SLICE = "regression"
GATED_SLICES = (FAMILY_SLICE, REGRESSION_SLICE)
# One-sided significance at which a candidate counts as worse than the serving model on the
# regression set, whatever the size of the loss.
WORSE_P = 0.05


def is_regression_row(row_id: str) -> bool:
    """Whether a classifier's validation row is in its regression set (about half, by the id's
    hash: stable); the other half calibrates each cycle's hybrid (ontask.feedback.cycle).

    >>> 0.35 < sum(is_regression_row(f"r-{i}") for i in range(200)) / 200 < 0.65
    True
    """
    return int(hashlib.sha256(f"regression:{row_id}".encode()).hexdigest()[:8], 16) < 0x80000000


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test on paired outcomes: the probability of `losses` or more among
    the `wins + losses` discordant rows if neither model were better. 1.0 with no discordant row.

    >>> sign_test_p(0, 0)
    1.0
    >>> round(sign_test_p(0, 5), 4)  # lost all five rows where the two disagree
    0.0312
    >>> round(sign_test_p(3, 3), 3)
    0.656
    """
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(comb(n, k) for k in range(losses, n + 1)) / 2**n


class SliceComparison(BaseModel):
    """The candidate and the serving model on the same rows of one slice."""

    model_config = ConfigDict(extra="forbid")

    n: int
    candidate_accuracy: float
    serving_accuracy: float
    gain: float = Field(description="Candidate's accuracy minus the serving model's.")
    wins: int = Field(description="Rows the candidate gets right and the serving model wrong.")
    losses: int = Field(description="Rows the serving model gets right and the candidate wrong.")
    p_worse: float = Field(description="One-sided sign test p-value that the candidate is worse (sign_test_p).")


def compare_slice(candidate: list[bool], serving: list[bool]) -> SliceComparison:
    """Row-by-row comparison of two models' correctness on the same rows.

    >>> c = compare_slice([True, True, False, True], [True, False, False, False])
    >>> (c.gain, c.wins, c.losses)
    (0.5, 2, 0)
    """
    if len(candidate) != len(serving):
        raise ValueError(f"paired slices differ in length: {len(candidate)} vs {len(serving)}")
    n = len(candidate)
    wins = sum(c and not s for c, s in zip(candidate, serving))
    losses = sum(s and not c for c, s in zip(candidate, serving))
    ca, sa = sum(candidate) / max(1, n), sum(serving) / max(1, n)
    return SliceComparison(
        n=n,
        candidate_accuracy=ca,
        serving_accuracy=sa,
        gain=round(ca - sa, 12),
        wins=wins,
        losses=losses,
        p_worse=sign_test_p(wins, losses),
    )


class Decision(BaseModel):
    """Promote or keep, each slice's comparison, and why."""

    model_config = ConfigDict(extra="forbid")

    promote: bool
    family: Optional[SliceComparison] = Field(description="The held-out corrections (None: the cycle had none).")
    regression: Optional[SliceComparison] = Field(description="The regression set (None: the classifier has none).")
    min_gain: float = Field(description="spec.serving.promoteIfGain when decided.")
    max_regression: float = Field(description="spec.serving.maxRegression when decided.")
    reason: str

    @property
    def candidate_accuracy(self) -> Optional[float]:
        """The candidate's accuracy on the regression set: its general accuracy."""
        return self.regression.candidate_accuracy if self.regression else None

    @property
    def serving_accuracy(self) -> Optional[float]:
        return self.regression.serving_accuracy if self.regression else None

    def overruled(self, reason: str) -> "Decision":
        """The same figures, not promoted, for a reason found after the gate (a failed canary)."""
        return self.model_copy(update={"promote": False, "reason": reason})


class Evaluation(BaseModel):
    """What `classifiers/<c>/evaluations/<version>.json` holds: each model's metrics per slice
    (ontask.evaluation.metrics.summary, with each row's correctness) and the decision."""

    model_config = ConfigDict(extra="forbid")

    candidate: dict[str, Any]
    serving: dict[str, Any]
    decision: Decision

    def edge_case_accuracy(self) -> Optional[float]:
        """The candidate's accuracy on the held-out corrections, when the cycle had any."""
        return self.decision.family.candidate_accuracy if self.decision.family else None

    def p50_latency_ms(self, model: Literal["candidate", "serving"]) -> Optional[float]:
        """The median latency of one answer of `model` as the cycle job measured it, one request at
        a time (ontask.evaluation.evaluate): on the regression set, else on the held-out
        corrections; None when neither slice carries latencies."""
        slices = self.candidate if model == "candidate" else self.serving
        for name in (REGRESSION_SLICE, FAMILY_SLICE):
            latency = slices.get(name, {}).get("latency_ms")
            if latency is not None:
                return latency["p50"]
        return None


def _slice(candidate: dict[str, Any], serving: dict[str, Any], name: str) -> Optional[SliceComparison]:
    if name not in candidate or name not in serving:
        return None
    return compare_slice(candidate[name]["correct"], serving[name]["correct"])


def decide(candidate: dict[str, Any], serving: dict[str, Any], min_gain: float, max_regression: float) -> Decision:
    """Promote when the candidate gains at least min_gain on the held-out corrections and is
    non-inferior on the regression set (module docstring). Both are evaluations of the answers as
    served (ontask.evaluation.evaluate): a student's hybrid with the verifier where it has one,
    so a candidate whose student gained nothing that its hybrid keeps is not promoted."""
    family, regression = _slice(candidate, serving, FAMILY_SLICE), _slice(candidate, serving, REGRESSION_SLICE)
    refusals, notes = [], []
    if family is None:
        refusals.append(
            "no held-out corrections to measure the corrected families on (too few corrections for "
            "feedback.holdoutFraction: the next cycle brings more)"
        )
    else:
        notes.append(
            f"held-out corrections {family.candidate_accuracy:.3f} vs {family.serving_accuracy:.3f} "
            f"(gain {family.gain:+.3f}, n={family.n})"
        )
        if family.gain < min_gain:
            refusals.append(f"held-out corrections gain {family.gain:+.3f} < promoteIfGain {min_gain:+.3f}")
    if regression is None and max_regression >= 1.0:
        notes.append("no regression set (maxRegression 1.0: not checked)")
    elif regression is None:
        refusals.append(
            "no regression set to check the rest of the screens on (the cycle replays no dataset with "
            "validation rows: the collector's --replay-dataset)"
        )
    else:
        notes.append(
            f"regression set {regression.candidate_accuracy:.3f} vs {regression.serving_accuracy:.3f} "
            f"(n={regression.n}, {regression.wins} rows won, {regression.losses} lost)"
        )
        if max_regression >= 1.0:
            pass  # the regression check turned off: any loss allowed
        elif -regression.gain > max_regression:
            refusals.append(f"regression set loss {-regression.gain:.3f} > maxRegression {max_regression:.3f}")
        elif regression.p_worse < WORSE_P:
            refusals.append(f"regression set significantly worse (sign test p={regression.p_worse:.3f} < {WORSE_P})")
    promote = not refusals
    rules = f"promoteIfGain {min_gain:+.3f}, maxRegression {max_regression:.3f}"
    reason = "; ".join(notes) + (
        f" -> refused: {'; '.join(refusals)}" if refusals else f" -> passes the gate ({rules})"
    )
    return Decision(
        promote=promote,
        family=family,
        regression=regression,
        min_gain=min_gain,
        max_regression=max_regression,
        reason=reason,
    )


def write_evaluation(store: Store, prefix: str, version: str, evaluation: Evaluation) -> str:
    """Store the evaluation beside the classifier's models; returns its key."""
    key = evaluation_key(prefix, version)
    store.put_bytes(key, evaluation.model_dump_json(indent=1).encode(), "application/json")
    return key


def read_evaluation(store: Store, prefix: str, version: str) -> Optional[Evaluation]:
    """The stored evaluation of a version; None until its job wrote it. One this gate cannot read
    (written by an earlier ontask, before an upgrade) is a refusal that says so, never an error
    that would stop the classifier's reconciling."""
    try:
        data = store.get_bytes(evaluation_key(prefix, version))
    except NotFound:
        return None
    try:
        return Evaluation.model_validate_json(data)
    except ValidationError as e:
        reason = f"its evaluation is in a format this gate does not read ({e.error_count()} problems): not promoted"
        decision = Decision(
            promote=False, family=None, regression=None, min_gain=0.0, max_regression=0.0, reason=reason
        )
        return Evaluation(candidate={}, serving={}, decision=decision)
