"""The shots of the real-screens set: which windows each screenshot shows (bottom to top, the
last focused), their layout, and the tasks it serves and does not. A seeded plan over the data
tables of `tasks`; `build` drives real applications to take the screenshots.

The split is by task: training rows never pair a screenshot with a validation task. Each
screenshot is labelled for one task it serves and at least one it does not, chosen as on real
desks: most often the same kind of tool on another task."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Optional

from ontask.realscreens.tasks import (
    CHAT,
    CODE,
    DISTRACTION_TASKS,
    DISTRACTIONS,
    DOC,
    FOCUS_MUSIC,
    FOCUS_MUSIC_POLICY,
    NOTE,
    PAGE,
    PDF,
    REAL_TASKS,
    SHEET,
    VIDEO,
    Material,
    RealTask,
)


@dataclass(frozen=True)
class Shot:
    """One screenshot to take: windows bottom to top (the last is focused) and its labels. Not the
    synthetic renderer's `ontask.data.scene.Scene`, which describes pixels to draw."""

    id: str
    windows: tuple[Material, ...]
    layout: str  # "full", "cascade" or "split"
    on_task: Optional[str]  # task id the focused window serves
    off_task: tuple[str, ...]  # task ids it does not serve
    hard: dict[str, str] = field(default_factory=dict)  # task id -> hard-case family of that row
    split: str = "train"


def task_by_id() -> dict[str, RealTask]:
    """Every task of the set, distraction tasks included, by id."""
    return {t.id: t for t in REAL_TASKS + DISTRACTION_TASKS}


def distraction_split(index: int) -> str:
    """The split of the index-th distraction (and so of the task whose work it is)."""
    return "val" if index % 3 == 2 else "train"


def _same_kind_other_task(task: RealTask, kind: str, pool: list[RealTask], rng: random.Random) -> RealTask:
    """Another task of the split, one that works in the same kind of window when there is one: on
    real desks the common off-task case is the right tool on another task."""
    same = [t for t in pool if t.id != task.id and any(m.kind == kind for m in t.materials)]
    return rng.choice(same or [t for t in pool if t.id != task.id])


def plan_shots(seed: int = 0) -> list[Shot]:
    """The whole set's shots, seeded: every task's materials focused alone and beside another
    window, split screens, background distractions, and distractions in front."""
    rng = random.Random(seed)
    shots: list[Shot] = []
    for split in ("train", "val"):
        pool = [t for t in REAL_TASKS if t.split == split]
        distractions = [d for i, d in enumerate(DISTRACTIONS) if distraction_split(i) == split]
        for task in pool:
            for j, m in enumerate(task.materials):
                other = _same_kind_other_task(task, m.kind, pool, rng)
                family = {
                    PAGE: "right-tool-other-task",
                    DOC: "right-tool-other-task",
                    SHEET: "right-tool-other-task",
                    CODE: "right-tool-other-task",
                    NOTE: "right-tool-other-task",
                    PDF: "docs-related",
                    VIDEO: "video-tutorial",
                    CHAT: "chat-task",
                }[m.kind]
                if m.kind == PAGE and ("docs" in m.host or "wikipedia" in m.host or "help" in m.host):
                    family = "docs-related"
                # alone (full screen) or cascaded over another task's window of the same split
                behind = rng.choice([mm for t in pool if t.id != task.id for mm in t.materials])
                layout = "full" if j % 2 == 0 else "cascade"
                windows = (m,) if layout == "full" else (behind, m)
                shots.append(
                    Shot(
                        f"{task.id}-{j}",
                        windows,
                        layout,
                        task.id,
                        (other.id,),
                        {task.id: family, other.id: "right-tool-other-task" if family != "chat-task" else "chat-task"},
                        split,
                    )
                )
            # the task's work beside a distraction in the background: still on-task
            _, distraction, _ = rng.choice(distractions)
            m = task.materials[0]
            other = _same_kind_other_task(task, m.kind, pool, rng)
            shots.append(
                Shot(
                    f"{task.id}-bg",
                    (distraction, m),
                    "cascade",
                    task.id,
                    (other.id,),
                    {task.id: "background-distraction", other.id: "right-tool-other-task"},
                    split,
                )
            )
            # split screen: two tasks' windows side by side, the focused one decides
            other = _same_kind_other_task(task, task.materials[-1].kind, pool, rng)
            shots.append(
                Shot(
                    f"{task.id}-split",
                    (rng.choice(other.materials), task.materials[-1]),
                    "split",
                    task.id,
                    (other.id,),
                    {task.id: "split-screen", other.id: "split-screen"},
                    split,
                )
            )
        for i, (family, d, owner) in enumerate(distractions):
            for k in range(2):
                task = rng.choice(pool)
                windows = (rng.choice(task.materials), d) if k else (d,)
                shots.append(
                    Shot(
                        f"{split}-distraction-{i}-{k}",
                        windows,
                        "cascade" if k else "full",
                        owner,
                        (task.id,),
                        {task.id: family, owner: "distraction-is-the-task"},
                        split,
                    )
                )
        # unrelated documentation: a docs page of one task is off-task for another of the same role
        for task in pool:
            docs = [
                m
                for t in pool
                if t.id != task.id and t.role != task.role
                for m in t.materials
                if m.kind == PAGE and ("wikipedia" in m.host or "docs" in m.host)
            ]
            if docs:
                d = rng.choice(docs)
                owner = next(t for t in pool if d in t.materials)
                shots.append(
                    Shot(
                        f"{task.id}-docs-unrelated",
                        (d,),
                        "full",
                        owner.id,
                        (task.id,),
                        {owner.id: "docs-related", task.id: "docs-unrelated"},
                        split,
                    )
                )
    return shots


def plan_policy_shots(seed: int = 0) -> list[Shot]:
    """The team-policy family's shots: for every task, its work with the team's focus music in
    front, on-task for that task under the policy and off-task for another task of its split
    (the same kind of tool where there is one). Seeded apart from `plan_shots`, so adding them
    changes none of the general set's shots."""
    rng = random.Random(f"{seed}:{FOCUS_MUSIC_POLICY}")
    shots: list[Shot] = []
    for split in ("train", "val"):
        pool = [t for t in REAL_TASKS if t.split == split]
        for task in pool:
            work = rng.choice(task.materials)
            other = _same_kind_other_task(task, work.kind, pool, rng)
            shots.append(
                Shot(
                    f"{task.id}-{FOCUS_MUSIC_POLICY}",
                    (work, FOCUS_MUSIC),
                    "cascade",
                    task.id,
                    (other.id,),
                    {task.id: FOCUS_MUSIC_POLICY, other.id: FOCUS_MUSIC_POLICY},
                    split,
                )
            )
    return shots


def plan_json(seed: int = 0) -> str:
    """The plan as canonical JSON: every task (its text and role go into the rows) and every shot
    of the general and the policy set. The set's fingerprint hashes it, so a change of the plan
    shows and moving or reformatting code does not."""
    return json.dumps(
        {
            "seed": seed,
            "tasks": [asdict(t) for t in REAL_TASKS + DISTRACTION_TASKS],
            "shots": [asdict(s) for s in plan_shots(seed)],
            "policy_shots": [asdict(s) for s in plan_policy_shots(seed)],
        },
        sort_keys=True,
        separators=(",", ":"),
    )
