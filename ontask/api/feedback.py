"""The TaskClassifier's learning from corrections (spec.feedback): the topic, the buffer, sync
cycles, and who may correct how much."""

from __future__ import annotations

from typing import Annotated, ClassVar, Optional

from pydantic import Field, model_validator

from ontask.api.wire import Model, ObjectName

# The corrections topic a classifier reads unless its spec names another.
DEFAULT_TOPIC = "ontask.corrections"
# A Kafka topic's name as the broker accepts it.
TopicName = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[a-zA-Z0-9._-]+$")]


_SOURCE_CAP = dict(ge=1, le=1_000_000)


class SourceCaps(Model):
    """Corrections each source may add between two cycles (feedback.maxCorrectionsPerSource)."""

    user: Optional[int] = Field(None, **_SOURCE_CAP, description="Users' corrections (unset: no cap).")
    judge: Optional[int] = Field(
        None,
        **_SOURCE_CAP,
        description="The judge's corrections (unset: no cap). Whoever may call a predictor chooses the window text "
        "the judge reads, so this bounds what such a caller can teach through the judge.",
    )
    reviewer: Optional[int] = Field(None, **_SOURCE_CAP, description="Reviewers' corrections (unset: no cap).")

    def of(self, source: str) -> Optional[int]:
        """The cap of a correction's source."""
        return getattr(self, source, None)


USER_KEY_ENV = "ONTASK_FEEDBACK_USER_KEY"  # the collector's copy of userKeySecretRef's `key`


class FeedbackSpec(Model):
    """Learning from corrections that arrive on Kafka."""

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": f"!has(self.{field}) || (self.{field} != self.topic && self.{field} != "
            "(has(self.deadLetterTopic) ? self.deadLetterTopic : self.topic + '.dead-letter'))",
            "message": f"{field} must be a topic of its own: not topic, nor the dead-letter topic",
            "fieldPath": f".{field}",
        }
        for field in ("reviewTopic", "judgeTopic")
    ] + [
        {
            "rule": "!has(self.reviewTopic) || !has(self.judgeTopic) || self.reviewTopic != self.judgeTopic",
            "message": "reviewTopic and judgeTopic must be two topics: each one's writers make its source",
            "fieldPath": ".judgeTopic",
        }
    ]

    topic: TopicName = Field(
        DEFAULT_TOPIC,
        description="Kafka topic of corrections (messages keyed by classifier name).",
    )
    review_topic: Optional[TopicName] = Field(
        None,
        description="Kafka topic of reviewers' corrections (e.g. <topic>.reviews), which the collector also "
        "reads: give only reviewers' principals WRITE on it (a Kafka ACL), since a correction is a reviewer's "
        "only when it arrived there (and, when reviewers is set, its userId is listed); `source: reviewer` on "
        "topic is kept as a user's. Unset: the payload's userId alone decides (see reviewers), which trusts "
        "whoever may write topic.",
    )
    judge_topic: Optional[TopicName] = Field(
        None,
        description="Kafka topic of the judge's corrections (e.g. <topic>.judge), which the predictors write and "
        "the collector also reads: give only the predictors' principal WRITE on it (a Kafka ACL), since a "
        "correction is the judge's only when it arrived there; `source: judge` on any other topic is kept as a "
        "user's. With one Kafka principal for every predictor of the installation, this guards against apps, "
        "not against another classifier's predictors. Unset: the judge's corrections go to topic, where whoever "
        "may write topic may say `source: judge`.",
    )
    buffer_size: int = Field(10000, ge=1, description="Corrections kept in the prioritised buffer.")
    variants_per_correction: int = Field(10, ge=0, le=1000, description="Synthetic variants made from each correction.")
    cycle_every: int = Field(100, ge=1, description="New corrections that start a sync cycle.")
    sync_steps: Optional[int] = Field(
        None,
        ge=1,
        description="Deprecated: moved to training.syncSteps. Still read in v1alpha1 (status.warnings "
        "says so); setting both to different values is refused.",
    )
    cycle_warm_start_steps: int = Field(
        0, ge=0, le=1_000_000, description="Supervised steps on the cycle's data before its GRPO steps."
    )
    max_cycle_wait_minutes: int = Field(
        1440,
        ge=1,
        description="A cycle also starts when corrections have waited this long, even if fewer "
        "than cycleEvery arrived.",
    )
    replay_ratio: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="Rows of earlier training data replayed per new row in a cycle (against forgetting).",
    )
    contrast_share: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Share of a cycle's replayed rows drawn from the corrected tasks' rows of the other label (a "
        "correction that makes a screen on-task replays the same tasks' off-task screens, and the reverse; for each "
        "correction, those whose windows name the apps most like its own first), so a cycle learns where its "
        "corrections end rather than spreading them to neighbouring screens; the rest is sampled from all "
        "training rows. 0: all sampled.",
    )
    anchor_weight: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="How much of a replayed row's supervised target in a cycle is the serving version's own answer "
        "(distillation, against forgetting) rather than the row's stored label; 0: the label alone.",
    )
    lora_rank: Optional[int] = Field(
        None,
        ge=0,
        le=1024,
        description="LoRA rank of a cycle's adapters on the serving version (merged into the candidate): a cycle "
        "that can only move a few directions forgets less. 0: full fine-tuning; unset: training.loraRank.",
    )
    holdout_fraction: float = Field(
        0.2,
        gt=0.0,
        le=0.45,
        description="Share of corrections held out whole (with their variants) for the promotion gate, and as "
        "many again for the candidate's validation; chosen by correction id, so never trained on in any cycle.",
    )
    learning_rate_scale: float = Field(
        0.33,
        gt=0.0,
        le=1.0,
        description="A sync cycle's learning rate as a fraction of training.learningRate. A cycle fine-tunes the "
        "serving model on a few hundred rows; at the full rate it forgets more of the rest "
        "(bench_convergence).",
    )
    dead_letter_topic: Optional[TopicName] = Field(
        None,
        description="Topic of invalid corrections; default <topic>.dead-letter.",
    )
    screenshot_retention_hours: int = Field(
        720,
        ge=1,
        description="Raw screenshots of corrections are deleted after this long, and the cycle datasets "
        "that copied them (all but the newest); hashes and labels stay.",
    )
    keep_cycle_jobs: int = Field(
        3,
        ge=0,
        le=1000,
        description="Decided cycles whose PyTorchJob (with its pods and their logs) is kept; the operator deletes "
        "older ones. Counted in cycles, not time, so a job is never deleted before its cycle is decided (a TTL could "
        "remove it first, and the operator would run the cycle again).",
    )
    reviewers: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list,
        max_length=256,
        description="userIds whose corrections may say `source: reviewer` (top priority). Anyone else's "
        "reviewer correction is kept as a user's and counted (the collector's reviewer_downgraded). A userId is "
        "what the producer writes, so without reviewTopic this trusts the payload: anyone who may write topic "
        "can claim a listed userId. With reviewTopic, a reviewer's correction must also arrive there; empty "
        "then means any principal that may write reviewTopic, and without it, no reviewers.",
    )
    user_key_secret_ref: Optional[ObjectName] = Field(
        None,
        description="Secret in the classifier's namespace whose key `key` signs userIds: a correction with a "
        "userId must then carry userSignature (ontask.feedback.signatures), or it is dead-lettered as "
        "`bad-signature`; one without a userId is anonymous. The apps' backends sign for their signed-in users, "
        "so reviewers and maxCorrectionsPerUser count people, not whatever a producer writes. Unset: the "
        "payload's userId is taken as written.",
    )
    max_corrections_per_user: Optional[int] = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Corrections one userId may add between two cycles (those without a userId share one "
        "allowance per source); more are dead-lettered as `user-cap`, so one user's flood cannot be most of a "
        "cycle. Unset: no cap.",
    )
    max_corrections_per_source: SourceCaps = Field(
        default_factory=SourceCaps,
        description="Corrections each source (user, judge, reviewer) may add between two cycles; more are "
        "dead-lettered as `source-cap`, so no one source is most of a cycle (e.g. `{judge: 20}`).",
    )
    max_evidence_bytes: int = Field(
        32_768,
        ge=1024,
        le=1_048_576,
        description="Evidence one correction may carry: the UTF-8 bytes of its windows' app names, titles, URLs and "
        "page texts and its note, together. A correction over it is dead-lettered as `oversized-evidence`. The "
        "evidence is kept beside the screenshots in the store, never in the collector's state.",
    )
    max_state_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        le=512 * 1024 * 1024,
        description="Most bytes of the collector's state (state.json, rewritten after every batch and held in the "
        "collector's memory, 2 GiB): when a write would pass it, the corrections of least value are evicted until "
        "it fits (counted as evicted_for_size; FeedbackConnected says so with reason StateAtLimit), so the buffer "
        "holds bufferSize corrections or as many as fit, whichever is fewer.",
    )
    screenshot_uri_prefixes: list[Annotated[str, Field(pattern=r"^s3://[^/]+/.*$", max_length=1024)]] = Field(
        default_factory=list,
        max_length=32,
        description="s3:// prefixes a correction's screenshotUri, and a prediction request's imageUri, may point "
        "into. Empty: anywhere in the "
        "classifier's bucket outside the areas ontask writes (its classifiers' and datasets' folders), which "
        "are never readable by reference.",
    )

    @model_validator(mode="after")
    def _trusted_topics_of_their_own(self) -> "FeedbackSpec":
        for name, topic in (("reviewTopic", self.review_topic), ("judgeTopic", self.judge_topic)):
            if topic is not None and topic in (self.topic, self.dead_letters()):
                raise ValueError(f"{name} must be a topic of its own: not topic, nor the dead-letter topic")
        if self.review_topic is not None and self.review_topic == self.judge_topic:
            raise ValueError("reviewTopic and judgeTopic must be two topics: each one's writers make its source")
        return self

    def source_topics(self) -> dict[str, str]:
        """{source: the topic whose writers alone may make it}: reviewTopic's for "reviewer" and
        judgeTopic's for "judge", when they are set."""
        pairs = (("reviewer", self.review_topic), ("judge", self.judge_topic))
        return {source: topic for source, topic in pairs if topic is not None}

    def topic_for(self, source: str) -> str:
        """Where a correction from `source` is sent: a reviewer's to reviewTopic and the judge's to
        judgeTopic when there are such topics, any other to topic."""
        return self.source_topics().get(source, self.topic)

    def topics(self) -> list[str]:
        """The topics the collector reads: topic, then reviewTopic and judgeTopic when set."""
        return [self.topic, *self.source_topics().values()]

    def dead_letters(self) -> str:
        """The dead-letter topic: deadLetterTopic, or <topic>.dead-letter."""
        return self.dead_letter_topic or f"{self.topic}.dead-letter"
