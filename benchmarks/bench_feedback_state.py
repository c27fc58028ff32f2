"""The collector's state after 10,000 corrections at the evidence limit, beside windows kept inline.

10,000 corrections, each with 64 windows whose app names, titles and URLs fill
spec.feedback.maxEvidenceBytes (the most intake accepts), become buffer entries through the
collector's own code (ontask.feedback.intake: validation's product, the entry, the buffer; the
screenshot and the evidence placed in packs as a poll places them), with no Kafka, no store and
no verifier rules (an entry's edge-case flag is one boolean in the state; scoring 64 windows is
intake's CPU, about 0.2 s a correction at this size, not the state's). The state is serialized
as the collector writes it after every batch (`to_json_within`) and written to a local file.
The peers are the same corrections with their windows inside the state, as collectors kept them
before: capped at maxEvidenceBytes (built and written), and uncapped at the wire's own maxima
(64 windows of 256 + 1024 + 4096 characters: only its size is summed, since it does not fit the
collector's 2 GiB).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid

import orjson

from ontask.api import FeedbackSpec
from ontask.api.windows import WindowInfo
from ontask.feedback.evidence import encode_evidence, evidence_size
from ontask.feedback.intake import Accepted, Intake
from ontask.feedback.producer import make_correction
from ontask.feedback.state import State
from ontask.images import ImageLimits, sha256
from ontask.store_paths import classifier_prefix, feedback_pack_key
from ontask.verify import VerifierConfig

N = 10_000
WINDOWS = 64
NOW = 1_700_000_000.0


def _windows(i: int, budget: int) -> list[WindowInfo]:
    """64 windows of distinct text whose app names, titles and URLs fill `budget` UTF-8 bytes."""
    each = budget // WINDOWS
    out = []
    for k in range(WINDOWS):
        app = f"App{k:02d}"
        url = f"https://docs.example.com/{i}/{k}/".ljust(each // 2, "p")
        title = f"Document {i}.{k} - ".ljust(each - len(app) - len(url), "t")
        out.append(WindowInfo(app=app, title=title, url=url, focused=k == WINDOWS - 1))
    return out


def _no_references(uri: str) -> bytes:
    raise AssertionError(f"the benchmark's corrections carry their screenshots, yet {uri} was read")


def _entries(spec: FeedbackSpec) -> tuple[State, list[list[dict]]]:
    """The state after N corrections, and each one's windows as sent."""
    intake = Intake("desk", spec, "ontask", ImageLimits(), VerifierConfig.from_yaml(""), _no_references)
    state = State.empty(spec.buffer_size)
    prefix, sent = classifier_prefix("desk"), []
    pack = feedback_pack_key(prefix, NOW, uuid.uuid4().hex)
    for i in range(N):
        c = make_correction(
            "desk",
            f"answer refund ticket {i} in the support desk and log the customer's reply",
            "off-task",
            image_uri=f"s3://ontask/captures/desk/{i}.png",
            windows=_windows(i, spec.max_evidence_bytes),
            predicted_label="on-task",
            confidence=0.7,
            model_version="v3",
            user_id=f"user-{i % 50}@team-a",
            session_id=str(uuid.uuid4()),
            id=f"agent-{uuid.uuid4().hex}",
        )
        assert evidence_size(c) <= spec.max_evidence_bytes  # what intake takes
        wire = [w.wire() for w in c.windows]
        evidence = encode_evidence(wire)
        accepted = Accepted(
            None, c, None, sha256(f"image {i}".encode()), evidence=evidence, near_key=f"px:{sha256(str(i).encode())}"
        )
        where = [i * 70_000, 70_000]
        entry = intake.entry(accepted, (pack, where), (pack, [where[0] + 70_000, len(evidence)]), NOW)
        state.buffer.add(entry, NOW)
        state.counts.buffered += 1
        sent.append(wire)
    return state, sent


def _write(data: bytes, folder: str) -> float:
    t0 = time.perf_counter()
    with open(os.path.join(folder, "state.json"), "wb") as f:
        f.write(data)
    return time.perf_counter() - t0


def run() -> None:
    spec = FeedbackSpec()
    t0 = time.perf_counter()
    state, sent = _entries(spec)
    built = time.perf_counter() - t0
    limit = spec.max_state_bytes
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        data, shed = state.to_json_within(limit, NOW)
        now_s = time.perf_counter() - t0 + _write(data, folder)
        kept = len(state.buffer.entries)

        inline = orjson.loads(data)
        for e, windows in zip(inline["buffer"]["entries"], sent):
            del e["evidence_key"], e["evidence_range"]
            e["windows"] = windows
        t0 = time.perf_counter()
        peer = orjson.dumps(inline)
        peer_s = time.perf_counter() - t0 + _write(peer, folder)
        del inline

    evidence = sum(len(encode_evidence(w)) for w in sent)
    widest = WindowInfo(app="a" * 256, title="t" * 1024, url="https://" + "u" * 4088).wire()
    uncapped = len(peer) - evidence + N * len(encode_evidence([widest] * WINDOWS))

    print(f"{N:,} corrections, {WINDOWS} windows each, {spec.max_evidence_bytes:,} bytes of evidence each")
    print(f"(entries built through intake and the buffer in {built:.1f}s)")
    print(f"{'state':<52} {'kept':>7} {'bytes':>15} {'limit':>13} {'write s':>8}")
    ours = "windows in packs, within maxStateBytes (ontask)"
    print(f"{ours:<52} {kept:>7,} {len(data):>15,} {limit:>13,} {now_s:>8.3f}")
    print(f"{'windows inline, evidence capped (peer)':<52} {N:>7,} {len(peer):>15,} {'none':>13} {peer_s:>8.3f}")
    print(f"{'windows inline, wire maxima (before the cap; summed)':<52} {N:>7,} {uncapped:>15,} {'none':>13} {'-':>8}")
    print(f"evicted to fit: {len(shed)}; within its limit: {len(data) <= limit}")
    print(f"the evidence in the store's packs instead: {evidence:,} bytes")
