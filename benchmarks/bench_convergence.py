"""Convergence under feedback, and what GRPO adds: accuracy on an edge family that no rule knows
after a cycle of corrections, beside the held-out rows it must not forget, tiny student on this
CPU, for several seeds (median and range), each cycle trained three ways: as the demo trains it
(the supervised steps, then GRPO), as a control arm that spends the GRPO steps on more
supervised steps instead, and as a LoRA-only cycle (feedback.loraRank: adapters on the serving
model, the same steps and learning rate); on real screens also with its replayed rows drawn at
random (feedback.contrastShare 0) beside the default, which draws half of them from the corrected
tasks' rows of the other label, those whose windows name the apps most like each correction's first.

The base student is trained (a supervised warm start, then GRPO) on contrastive synthetic screens
(pairs over the same pixels) that never show the family. The family is a team's own policy
(ontask.data.labels.FOCUS_MUSIC_TEAM): its focus-music player in front of the task's work counts
as on-task; the same screen with a task whose work is not open stays off-task, so the family's
rows are balanced. Each point trains a candidate from that same base on a cycle dataset built as
the collector builds it: the corrections (the on-task side, the one a user corrects; no scene,
as from Kafka), their variants (pixel and wording changes, and the same pixels with a task
nothing on the screen serves, off-task) and replayed base rows (anchored to the base's own
answers, feedback.anchorWeight). It is evaluated on unseen screenshots of the family and on the
held-out set, the verifier beside it. The same policy runs on the real-screens set (real
applications; its `focus-music.jsonl` rows): corrections from its training tasks, unseen rows
from its validation tasks, with the rest of the validation rows as the held-out set; the base
never saw a real screenshot. Also written: a table and a PNG plot in out/bench/convergence.{md,png}.

For each seed (11, 12, 13): its own base (a supervised warm start of 200 steps, then GRPO, on 640
contrastive synthetic rows), its own family and held-out rows, and a cycle from that base with
the demo's mix (20 corrections, 10 variants each, one replayed base row per cycle row; the demo's
supervised steps, then GRPO, at the spec's default learningRateScale). The unseen rows are
balanced, so a student that learned "music means on-task" scores 0.50. On real screens the
corrections are the on-task rows of the set's training tasks, the unseen rows its validation
tasks' focus-music rows (balanced), the held-out rows the rest of its validation rows; the
cycles replay the set's general training rows (ground truth), as a deployed classifier replays
its own users' screens. The student trains without the judge's reward, so GRPO's own case (a
judge's confidence as the reward, training.advantageNorm: batch) is not exercised here. The bar:
the family up by 30 points within 50 corrections, the held-out rows down by no more than 2.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = (11, 12, 13)
SYNTHETIC_POINTS = (0, 20)  # corrections of the synthetic family
# The demo's cycle; the control arm (the same steps, supervised); the demo's cycle training LoRA
# adapters on the serving model only (feedback.loraRank), merged into the candidate.
ARMS = ("GRPO", "supervised", "LoRA")
# On real screens also: the demo's cycle with its replayed rows all drawn at random
# (feedback.contrastShare 0), beside the default that draws part of them from the corrected
# tasks' rows of the other label.
RANDOM_REPLAY = "GRPO, random replay"
LORA_RANK = 16
# The cycle's mix, as the demo runs it: variants per correction and replayed base rows per cycle row.
FEEDBACK = {"variantsPerCorrection": 10, "replayRatio": 1.0}


def spread(values: list[float]) -> str:
    """Median [min-max] of a figure over seeds.

    >>> spread([0.8, 0.7, 0.9])
    '0.800 [0.700-0.900]'
    """
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def points(after: list[float], before: list[float]) -> str:
    """The median [range] over seeds of a paired difference, in points.

    >>> points([0.9, 0.8, 0.95], [0.92, 0.8, 0.9])
    '+0.0 [-2.0, +5.0]'
    """
    d = sorted(round(100 * (a - b), 1) for a, b in zip(after, before, strict=True))
    return f"{statistics.median(d):+.1f} [{d[0]:+.1f}, {d[-1]:+.1f}]"


def real_bar(base: dict, cycle: dict, verifier: dict) -> list[str]:
    """The issue's bar on real screens, seed by seed (median [range] of the paired differences):
    the family up by 25 points or more, the other validation rows down by at most 2, and after the
    cycle the student above the verifier on all validation rows and within 2 of it on the others."""
    return [
        "real screens, the demo's cycle (GRPO) seed by seed, in points, median [range]:",
        f"  focus music vs base {points(cycle['edge'], base['edge'])} (goal >= +25); "
        f"other validation rows vs base {points(cycle['heldout'], base['heldout'])} (goal >= -2)",
        f"  vs the verifier: all validation rows {points(cycle['all'], verifier['all'])} (goal > 0); "
        f"other validation rows {points(cycle['heldout'], verifier['heldout'])} (goal >= -2)",
        "",
    ]


def run() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ontask import realscreens
    from ontask.api import TaskClassifierSpec
    from ontask.data.catalog import catalog_corpus
    from ontask.data.dataset import Example, write_version
    from ontask.data.generate import family_examples, generate
    from ontask.data.labels import FOCUS_MUSIC_TEAM
    from ontask.data.variants import make_variants
    from ontask.demo import CYCLE_WARM_START_STEPS
    from ontask.evaluation.compare import Item, compare
    from ontask.feedback.cycle import replay_choice, window_apps
    from ontask.models.tiny import build_tiny_vlm
    from ontask.store import LocalStore
    from ontask.trainers.run import run_training

    spec = TaskClassifierSpec.model_validate(
        {
            "data": {"source": "synthetic", "trainBatchSize": 8, "maxResponseLength": 4},
            "judge": {"enabled": False},
            "training": {
                "epochs": 1,
                "groupSize": 4,
                "learningRate": 3e-4,
                "entropyCoef": 0.03,
                "evalEvery": 1000,
                "saveEvery": 100000,
                "rewardWeights": {"binary": 0.8, "judge": 0.0, "verifier": 0.2},
            },
            "feedback": FEEDBACK,
        }
    )

    def items(rows: list) -> list:
        return [Item(x.image, x.task, x.windows, x.label) for x in rows]

    def train(*args: object, model_version: str, **kwargs: object) -> dict:
        """run_training without its progress lines (a page of them per run would bury the table);
        one line per run on stderr instead, so a 25-minute bench is not silent."""
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            out = run_training(*args, model_version=model_version, **kwargs)
        seconds = time.perf_counter() - t
        print(f"[bench_convergence] seed {seed}: {model_version} trained in {seconds:.0f} s", file=sys.stderr)
        return out

    t0 = time.perf_counter()
    real = realscreens.cached_set()
    real_rows = realscreens.examples(real)
    policy_rows = realscreens.examples(real, realscreens.POLICY_MANIFEST)
    real_corrections = [x for x in policy_rows if x.split == "train" and x.label == "on-task"]
    real_sets = {
        "edge": items([x for x in policy_rows if x.split == "val"]),
        "heldout": items([x for x in real_rows if x.split == "val"]),
    }
    real_sets["all"] = real_sets["edge"] + real_sets["heldout"]
    real_replay = [x for x in real_rows if x.split == "train"]
    # results[(where, k, arm)] -> {slice: [accuracy per seed]}; arm None for the base (k = 0).
    results: dict = {}
    verifier: dict = {}
    for seed in SEEDS:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            store = LocalStore(tmp / "store")
            examples = list(generate(640, seed=seed, contrastive=True))
            heldout = [x for x in examples if x.split == "val"][:120]
            base_rows = [x for x in examples if x.split == "train"]
            write_version(store, "base", base_rows, "ontask/synthetic", {"bench": "convergence"})
            base = build_tiny_vlm(tmp / "tiny", seed=seed, corpus=catalog_corpus())
            v1 = train(spec, store, "conv", "base", str(base), warm_start_steps=200, model_version="v1")

            def after(corrections: list, k: int, name: str, replay: list, arm: str) -> str:
                """The model a cycle on the first k corrections trains from v1: the cycle's dataset
                as the collector builds it (corrections without a scene, as from Kafka, their
                variants, replayed rows)."""
                fixes = [
                    Example(
                        id=f"fix-{i}",
                        image=x.image,
                        task=x.task,
                        label=x.label,
                        label_source="user",
                        windows=x.windows,
                        hard=True,
                        hard_kind="correction",
                    )
                    for i, x in enumerate(corrections[:k])
                ]
                cycle = list(fixes)
                for ex in fixes:
                    cycle += make_variants(ex, spec.feedback.variants_per_correction, seed=k)
                n_replay = round(spec.feedback.replay_ratio * len(cycle))
                # As the collector chooses them: part of them the corrected tasks' rows of the other label.
                rows = [{"task": x.task, "label": x.label, "apps": window_apps(x.windows), "row": x} for x in replay]
                corrected = [(x.task, x.label, window_apps(x.windows)) for x in fixes]
                share = 0.0 if arm == RANDOM_REPLAY else spec.feedback.contrast_share
                picked = [c["row"] for c in replay_choice(rows, corrected, n_replay, share, k)]
                cycle += [replace(x, id=f"replay-{x.id}", split="train", reason="replay") for x in picked]
                tag = arm.lower().replace(",", "").replace(" ", "-")
                dataset = f"cycle-{name}-{k}-{tag}"
                write_version(store, dataset, cycle, "ontask/feedback", {"corrections": k})
                arm_spec = spec
                if arm == "LoRA":
                    arm_spec = spec.model_copy(
                        update={"feedback": spec.feedback.model_copy(update={"lora_rank": LORA_RANK})}
                    )
                return train(
                    arm_spec,
                    store,
                    "conv",
                    dataset,
                    v1["model_uri"],
                    warm_start_steps=CYCLE_WARM_START_STEPS,
                    model_version=f"{name}-{k}-{tag}",
                    cycle=True,
                    supervised_only=arm == "supervised",
                )["model_uri"]

            family = family_examples("focus-music", 2 * max(SYNTHETIC_POINTS) + 60, seed=seed, policy=FOCUS_MUSIC_TEAM)
            pool = family[: 2 * max(SYNTHETIC_POINTS)]
            corrections = [x for x in pool if x.label == "on-task"]  # the side users correct
            sets = {"edge": items(family[2 * max(SYNTHETIC_POINTS) :]), "heldout": items(heldout)}
            plans = [("synthetic", 0, None, v1["model_uri"], sets)]
            plans += [
                ("synthetic", k, arm, (corrections, k, "syn", base_rows, arm), sets)
                for k in SYNTHETIC_POINTS[1:]
                for arm in ARMS
            ]
            # Real screens: the set's training tasks' policy rows are the corrections; the cycles
            # replay its general training rows (ground truth), as a deployed classifier replays its
            # own users' screens.
            n_real = len(real_corrections)
            plans += [("real", 0, None, v1["model_uri"], real_sets)]
            # The supervised control arm runs on the synthetic family only (its question is the same
            # on both); LoRA-only cycles run on both; random replay on real screens, whose replayed
            # rows hold the corrected tasks' other screens.
            plans += [
                ("real", n_real, arm, (real_corrections, n_real, "real", real_replay, arm), real_sets)
                for arm in ("GRPO", RANDOM_REPLAY, "LoRA")
            ]
            for where, k, arm, model, slices in plans:
                uri = model if isinstance(model, str) else after(*model)
                result = compare(slices, {"student": uri})
                verifier.setdefault(where, {s: [] for s in slices})
                if arm is None:
                    for s in slices:
                        verifier[where][s].append(result["verifier alone"][s]["accuracy"])
                cell = results.setdefault((where, k, arm), {s: [] for s in slices})
                for s in slices:
                    cell[s].append(result["student"][s]["accuracy"])
    sizes = {"synthetic": {"edge": 60, "heldout": 120}, "real": {s: len(v) for s, v in real_sets.items()}}
    table = [
        f"Median [range] over seeds {', '.join(map(str, SEEDS))}; each seed its own base, family and held-out rows.",
        "",
        f"| synthetic: corrections | arm | focus-music family, unseen rows (n={sizes['synthetic']['edge']}) | "
        f"held-out, other families (n={sizes['synthetic']['heldout']}) |",
        "|---|---|---|---|",
    ]
    for (where, k, arm), cell in results.items():
        if where == "synthetic":
            table.append(f"| {k} | {arm or 'base'} | {spread(cell['edge'])} | {spread(cell['heldout'])} |")
    v = verifier["synthetic"]
    table += [f"| verifier alone | - | {spread(v['edge'])} | {spread(v['heldout'])} |", ""]
    n = sizes["real"]
    table += [
        f"| real screens: corrections | arm | focus music, validation tasks (n={n['edge']}) | other validation rows "
        f"(n={n['heldout']}) | all validation rows (n={n['all']}) |",
        "|---|---|---|---|---|",
    ]
    for (where, k, arm), cell in results.items():
        if where == "real":
            figures = " | ".join(spread(cell[s]) for s in ("edge", "heldout", "all"))
            table.append(f"| {k} | {arm or 'base'} | {figures} |")
    v = verifier["real"]
    table += [f"| verifier alone | - | {spread(v['edge'])} | {spread(v['heldout'])} | {spread(v['all'])} |", ""]
    table += real_bar(results[("real", 0, None)], results[("real", n_real, "GRPO")], verifier["real"])
    print("\n".join(table))
    print(f"student trained without the verifier's reward; {time.perf_counter() - t0:.0f} s in all")
    out = REPO / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "convergence.md").write_text("\n".join(table))
    fig, ax = plt.subplots(figsize=(6, 4))
    for where, marker in (("synthetic", "o"), ("real", "^")):
        for arm, style in (("GRPO", "-"), ("supervised", ":"), ("LoRA", "--")):
            if not any(w == where and a == arm for w, _, a in results):
                continue
            cells = [(k, c) for (w, k, a), c in results.items() if w == where and a in (None, arm)]
            ks = [k for k, _ in cells]
            for s, colour in (("edge", "C0"), ("heldout", "C1")):
                med = [statistics.median(c[s]) for _, c in cells]
                ax.plot(ks, med, marker=marker, linestyle=style, color=colour, label=f"{where} {s}, {arm}")
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax.set_xlabel(f"corrections (each with {spec.feedback.variants_per_correction} variants)")
    ax.set_ylabel("accuracy (median over seeds)")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy after a cycle of corrections, tiny student on CPU")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "convergence.png", dpi=110)
    plt.close(fig)
    print(f"plot: {(out / 'convergence.png').relative_to(REPO)}")
