"""Who may teach a classifier, at the collector's door (its real processing, a local store and a
recording stand-in for the dead-letter producer; tests/test_feedback_collector.py runs the same
rules against the real Kafka broker): `source: reviewer` only from the spec's reviewers (and, with
a review topic, only from there), a cap on one user's corrections between cycles, and a screenshot
is the same correction however its file was changed."""

from __future__ import annotations

import base64
import io
import random
from typing import Optional

import pytest
from PIL import Image, PngImagePlugin

from ontask.api import FeedbackSpec
from ontask.feedback import Collector, encode_correction, make_correction
from ontask.feedback.state import CycleProgress
from ontask.store import LocalStore
from tests.kafka_doubles import DeadLetters, Record

CLASSIFIER = "desk"


def screenshot(seed: int, size=(320, 200)) -> Image.Image:
    """A busy screen: many cells of their own colour, as text and widgets make a real one."""
    rng = random.Random(seed)
    img = Image.new("RGB", size)
    for x in range(0, size[0], 8):
        for y in range(0, size[1], 8):
            img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 8, y + 8))
    return img


def png(img: Image.Image, **info: str) -> bytes:
    meta = PngImagePlugin.PngInfo()
    for k, v in info.items():
        meta.add_text(k, v)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=meta)
    return buf.getvalue()


class Intake:
    def __init__(self, tmp_path, user_key: Optional[bytes] = None, namespace: Optional[str] = None, **spec):
        store = LocalStore(tmp_path)
        self.collector = Collector(
            CLASSIFIER, FeedbackSpec(**spec), store, "unused:9092", user_key=user_key, namespace=namespace
        )
        self.dead = DeadLetters()
        self.collector.intake.producer = self.dead
        self.offset = 0

    def send(self, *corrections, topic: str = "corrections"):
        records = []
        for c in corrections:
            key, value = encode_correction(c)
            records.append(Record(key, value, topic=topic, offset=self.offset))
            self.offset += 1
        _, packs, _ = self.collector.process(records)
        packs.wait()
        return self.collector.state

    def close(self):
        self.collector.close()


@pytest.fixture
def intake(tmp_path):
    made = []

    def make(**spec):
        made.append(Intake(tmp_path / str(len(made)), **spec))
        return made[-1]

    yield make
    for i in made:
        i.close()


def correction(i: int, image: Optional[bytes] = None, **kw):
    return make_correction(
        CLASSIFIER, "answer refund tickets", "off-task", image=image or png(screenshot(i)), id=f"c-{i}", **kw
    )


def test_reviewer_only_from_a_listed_user_else_a_users_correction(intake):
    desk = intake(reviewers=["lead@desk"])
    state = desk.send(
        correction(1, source="reviewer", user_id="lead@desk"),
        correction(2, source="reviewer", user_id="mallory"),
        correction(3, source="reviewer"),  # no userId at all
    )
    sources = {e.id: (e.source, e.user_id) for e in state.buffer.entries.values()}
    assert sources == {"c-1": ("reviewer", "lead@desk"), "c-2": ("user", "mallory"), "c-3": ("user", None)}
    assert state.counts.reviewer_downgraded == 2 and state.counts.buffered == 3
    # Without a list, nobody is a reviewer.
    assert intake().send(correction(4, source="reviewer", user_id="lead@desk")).buffer.entries["c-4"].source == "user"


def test_with_a_review_topic_a_reviewer_is_who_wrote_there(intake):
    # Who may write the review topic is the broker's ACLs' to say (tests/test_feedback_principals.py):
    # with no list of reviewers, anyone who wrote there is one, and nobody elsewhere.
    desk = intake(topic="corrections", review_topic="reviews")
    desk.send(correction(1, source="reviewer", user_id="lead@desk"), correction(2, user_id="bob"))
    state = desk.send(correction(3, source="reviewer", user_id="lead@desk"), topic="reviews")
    sources = {e.id: e.source for e in state.buffer.entries.values()}
    assert sources == {"c-1": "user", "c-2": "user", "c-3": "reviewer"}
    assert state.counts.reviewer_downgraded == 1
    assert state.offsets == {"0": 2, "reviews/0": 3}
    with pytest.raises(ValueError, match="reviewTopic must be a topic of its own"):
        FeedbackSpec(topic="corrections", review_topic="corrections.dead-letter")


def test_with_a_judge_topic_the_judge_is_who_wrote_there(intake):
    # The predictors alone may write the judge topic (a Kafka ACL); anyone may say source judge.
    caps = {"judge": 1}
    desk = intake(topic="corrections", review_topic="reviews", judge_topic="judge", max_corrections_per_source=caps)
    desk.send(correction(1, source="judge"), correction(2, source="judge", user_id="mallory"))
    desk.send(correction(3, source="judge"), topic="reviews")  # another trusted topic is not the judge's
    desk.send(correction(4, source="reviewer", user_id="lead@desk"), topic="judge")  # nor the reviewers'
    state = desk.send(correction(5, source="judge"), correction(6, source="judge"), topic="judge")
    sources = {e.id: e.source for e in state.buffer.entries.values()}
    assert sources == {"c-1": "user", "c-2": "user", "c-3": "user", "c-4": "user", "c-5": "judge"}
    # The judge's cap is the judge's: the claims kept as users' did not use it up, its own second did.
    assert state.dead_letter_reasons == {"source-cap": 1}
    assert state.counts.judge_downgraded == 3 and state.counts.reviewer_downgraded == 1
    assert state.offsets == {"0": 2, "reviews/0": 3, "judge/0": 6}
    spec = FeedbackSpec(topic="corrections", review_topic="reviews", judge_topic="judge")
    assert spec.topics() == ["corrections", "reviews", "judge"] and spec.topic_for("judge") == "judge"
    # Without one, the judge's corrections share the corrections topic, as before.
    assert FeedbackSpec(topic="corrections").topic_for("judge") == "corrections"
    with pytest.raises(ValueError, match="reviewTopic and judgeTopic must be two topics"):
        FeedbackSpec(topic="corrections", review_topic="trusted", judge_topic="trusted")
    with pytest.raises(ValueError, match="judgeTopic must be a topic of its own"):
        FeedbackSpec(topic="corrections", judge_topic="corrections")


def test_one_users_flood_is_capped_per_cycle_and_others_still_get_in(intake):
    desk = intake(max_corrections_per_user=3, cycle_every=1000)
    flood = [correction(100 + i, user_id="mallory") for i in range(10)]
    state = desk.send(
        *flood, correction(1, user_id="alice"), correction(2), correction(3), correction(4), correction(5)
    )
    users = [e.user_id for e in state.buffer.entries.values()]
    assert users.count("mallory") == 3 and users.count("alice") == 1
    assert users.count(None) == 3  # corrections without a userId share one allowance
    assert state.counts.over_user_cap == 8 and state.counts.dead_lettered == 8
    capped = [d for d in desk.dead.sent if d["ontask-reason"] == "user-cap"]
    assert len(capped) == 8 and "'mallory' already added 3 corrections this cycle" in capped[0]["ontask-error"]
    # A new cycle opens a new allowance.
    state.cycle = CycleProgress(number=1)
    assert desk.send(correction(200, user_id="mallory")).buffer.entries["c-200"].user_id == "mallory"


def test_the_judges_corrections_are_capped_per_cycle_and_users_still_get_in(intake):
    # Whoever may call a predictor chooses the window text its judge reads, so the judge's share of
    # a cycle has a cap of its own.
    desk = intake(max_corrections_per_source={"judge": 2}, cycle_every=1000)
    state = desk.send(*[correction(300 + i, source="judge") for i in range(5)], correction(1, user_id="alice"))
    sources = [e.source for e in state.buffer.entries.values()]
    assert sources.count("judge") == 2 and sources.count("user") == 1
    assert state.counts.over_source_cap == 3 and state.counts.over_user_cap == 0
    capped = [d for d in desk.dead.sent if d["ontask-reason"] == "source-cap"]
    assert len(capped) == 3
    assert (
        "source 'judge' already added 2 corrections this cycle (feedback.maxCorrectionsPerSource.judge)"
        in (capped[0]["ontask-error"])
    )
    # A new cycle opens a new allowance.
    state.cycle = CycleProgress(number=1)
    assert desk.send(correction(400, source="judge")).buffer.entries["c-400"].source == "judge"


def test_the_same_screenshot_changed_by_a_byte_or_flipped_is_a_duplicate(intake):
    desk = intake()
    shot = screenshot(7)
    desk.send(correction(1, image=png(shot), user_id="u1"))
    one_pixel = shot.copy()
    one_pixel.putpixel((10, 10), (1, 2, 3))
    recompressed = io.BytesIO()
    shot.save(recompressed, format="PNG", compress_level=1)
    state = desk.send(
        correction(2, image=png(shot, note="new id, new metadata")),  # other bytes, same pixels
        correction(3, image=png(one_pixel)),  # one pixel changed
        correction(5, image=png(shot), corrected_label="on-task"),  # the same screenshot, flipped
        correction(6, image=recompressed.getvalue()),  # re-encoded, losslessly
    )
    assert set(state.buffer.entries) == {"c-1"} and state.counts.duplicates == 4
    # Another screenshot, or the same one for another task, is a correction of its own.
    state = desk.send(
        correction(8),
        make_correction(CLASSIFIER, "write the quarterly report", "off-task", image=png(shot), id="c-9"),
    )
    assert set(state.buffer.entries) == {"c-1", "c-8", "c-9"}


def test_a_store_outage_while_reading_a_reference_is_waited_out_never_dead_lettered(intake):
    """A referenced screenshot the store cannot be asked for (no connection, a 5xx) fails the
    batch, which the collector reads again from its durable offsets; what the store says about
    the object itself (missing, refused, too large, a bad request) dead-letters the correction,
    so no record can stall the topic."""
    from ontask.feedback.intake import StoreUnavailable
    from ontask.store import Forbidden, NotFound, StoreError, Unavailable

    desk = intake()
    shot = png(screenshot(9))
    answers: list = [
        ConnectionError("connection refused"),
        Unavailable("cannot read s3://ontask/up/a.png: SlowDown"),
        NotFound("no such key"),
        Forbidden("AccessDenied"),
        StoreError("cannot read s3://ontask/up/a.png: KeyTooLongError"),
        shot,
    ]

    def read(uri: str) -> bytes:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    desk.collector.intake.read_reference = read

    def ref(i: int):
        return make_correction(
            CLASSIFIER, "answer refund tickets", "off-task", image_uri="s3://ontask/up/a.png", id=f"r-{i}"
        )

    for i, says in ((1, "connection refused"), (2, "SlowDown")):
        with pytest.raises(StoreUnavailable, match=says):
            desk.send(ref(i))
    assert desk.dead.reasons == []
    state = desk.send(ref(3), ref(4), ref(5), ref(6))
    assert desk.dead.reasons == ["missing-reference", "forbidden-reference", "unreadable-reference"]
    assert [e.id for e in state.buffer.entries.values()] == ["r-6"]


def test_a_collector_on_a_folder_store_reads_no_reference(intake):
    """Its bucket is unknown, so a reference could name any bucket the environment's keys reach:
    refused, with the reason, at once."""
    desk = intake()
    desk.send(make_correction(CLASSIFIER, "answer refund tickets", "off-task", image_uri="s3://any/up/a.png", id="r"))
    assert desk.dead.reasons == ["forbidden-reference"]
    assert "store is a folder" in desk.dead.sent[0]["ontask-error"]


def test_with_a_user_key_only_signed_userids_count(intake):
    """Kafka does not say who produced a record: with feedback.userKeySecretRef, the app's backend
    signs each userId and the collector keeps only what verifies, so a producer cannot pass as a
    listed reviewer or spread one user's flood over invented ids."""
    from ontask.feedback.signatures import MissingUserKey, user_key_from_env

    spec = {"user_key_secret_ref": "desk-user-key", "reviewers": ["lead@desk"], "max_corrections_per_user": 2}
    with pytest.raises(MissingUserKey, match="userKeySecretRef"):
        intake(**spec)
    key = b"s3cret-of-the-desk-backend"
    assert user_key_from_env("desk-user-key", {"ONTASK_FEEDBACK_USER_KEY": key.decode()}) == key
    with pytest.raises(MissingUserKey, match="ONTASK_FEEDBACK_USER_KEY is empty"):
        user_key_from_env("desk-user-key", {})
    desk = intake(**spec, user_key=key)

    def signed(i: int, user: str, source: str = "user", **kw):
        return correction(i, user_id=user, source=source, user_key=key, **kw)

    def lifted(c, **changes):
        """A signed correction's signature on a correction changed after it was signed."""
        return c.model_copy(update=changes)

    state = desk.send(
        signed(1, "lead@desk", source="reviewer"),
        lifted(signed(2, "lead@desk"), user_id="mallory"),  # a signature lifted from another user
        correction(3, user_id="lead@desk", source="reviewer"),  # no signature at all
        correction(4),  # anonymous: no userId, nothing to sign
        signed(5, "bob"),
        signed(6, "bob"),
        signed(7, "bob"),  # bob's third: over maxCorrectionsPerUser
    )
    kept = {e.id: (e.source, e.user_id) for e in state.buffer.entries.values()}
    assert kept == {
        "c-1": ("reviewer", "lead@desk"),
        "c-4": ("user", None),
        "c-5": ("user", "bob"),
        "c-6": ("user", "bob"),
    }
    assert desk.dead.reasons == ["bad-signature", "bad-signature", "user-cap"]
    errors = [sent["ontask-error"] for sent in desk.dead.sent[:2]]
    assert "does not match" in errors[0] and "userId 'mallory'" in errors[0] and "without a userSignature" in errors[1]
    # What was signed cannot change: a user's signature makes no reviewer's correction (the source
    # is signed), and no other label, task or screenshot under the same id.
    for i, changes in enumerate(
        ({"source": "reviewer"}, {"corrected_label": "on-task"}, {"task": "answer invoices"},
         {"screenshot_base64": base64.b64encode(png(screenshot(99))).decode()}),
        start=8,
    ):  # fmt: skip
        desk.send(lifted(signed(i, "lead@desk"), **changes))
        assert desk.dead.reasons[-1] == "bad-signature", changes
    assert desk.dead.reasons.count("bad-signature") == 6


def test_a_correction_naming_another_namespace_is_another_classifiers(intake):
    """Two namespaces may each have a classifier named desk reading one topic: a correction that
    names its namespace reaches only that one's collector (one without, both: as in 0.1.0)."""
    support, sales = intake(namespace="support"), intake(namespace="sales")
    sent = (correction(1, namespace="support"), correction(2, namespace="sales"), correction(3))
    for collector, own in ((support, {"c-1", "c-3"}), (sales, {"c-2", "c-3"})):
        state = collector.send(*sent)
        assert set(state.buffer.entries) == own and state.counts.other_classifier == 1
    # The namespace is signed with the classifier's name: a signed correction moved to another
    # namespace does not verify there.
    key = b"one-key-for-both"
    signed = correction(4, namespace="support", user_id="bob", user_key=key)
    moved = signed.model_copy(update={"namespace": "sales"})
    sales_signed = intake(namespace="sales", user_key=key, user_key_secret_ref="k")
    sales_signed.send(moved)
    assert sales_signed.dead.reasons == ["bad-signature"]
    with pytest.raises(ValueError, match="namespace"):
        correction(5, namespace="Not_A_Namespace")
