"""Synthetic datasets: scenes for the task library, labelled by the rule, rendered by Pillow.
Row i depends only on (seed, i), so a set is reproducible and can be extended."""

from __future__ import annotations

import functools
import multiprocessing
import os
import random
from typing import Iterator, Optional

from PIL import Image, ImageDraw

from ontask.data.catalog import TASKS, TASKS_BY_ID
from ontask.data.dataset import VAL_FRACTION, Example, split_for
from ontask.data.labels import GENERAL, Policy, label_scene
from ontask.data.render import render
from ontask.data.scene import Scene, family_tools, scenario_for, scenario_scene
from ontask.fonts import font
from ontask.labels import ON


def example_at(seed: int, index: int, contrastive: bool = False, val_fraction: float = VAL_FRACTION) -> Example:
    """The index-th synthetic example of a seeded set, in the validation split with probability
    `val_fraction` (spec.data.validationShare).

    contrastive: rows come in pairs over the same pixels, a task the scene serves first, then one
    the focused window does not serve although it is the same kind of tool (the right tool on
    another task, the common off-task case on real desks): balanced labels, and both rows of a
    pair share a split."""
    base = index // 2 if contrastive else index
    rng = random.Random(f"{seed}:{base}")
    task = TASKS[base % len(TASKS)] if base < len(TASKS) else rng.choice(TASKS)
    scenario = scenario_for(task, rng)
    scene = scenario_scene(rng, task, scenario)
    if not contrastive:
        example_id = f"syn-{seed}-{index}"
        split = split_for(example_id, val_fraction)
        return example_from_scene(scene, task.id, task.text, example_id, split=split, scenario=scenario)
    pair_rng = random.Random(f"{seed}:{base}:pair")
    pair = pair_tasks(scene, task, pair_rng)
    while pair is None:  # a scene that serves no task (a game in front) has no on-task side: draw again
        task = rng.choice(TASKS)
        scenario = scenario_for(task, rng)
        scene = scenario_scene(rng, task, scenario)
        pair = pair_tasks(scene, task, pair_rng)
    served, unserved = pair
    split = split_for(f"syn-{seed}-{base}", val_fraction)
    if index % 2 == 0:
        return example_from_scene(scene, served.id, served.text, f"syn-{seed}-{base}-a", split=split, scenario=scenario)
    return example_from_scene(
        scene,
        unserved.id,
        unserved.text,
        f"syn-{seed}-{base}-b",
        split=split,
        scenario=f"{scenario}/other-task",
        pair_of=f"syn-{seed}-{base}-a",
    )


def pair_tasks(scene: Scene, task, rng: random.Random):
    """(a task the scene serves, one it does not) for the same pixels, or None when it serves none:
    the scene's own task when it serves it; on the other side preferably a task done in the same
    kind of tool (the right tool on another task)."""
    on = {t.id for t in TASKS if label_scene(scene, t).label == ON}
    if not on:
        return None
    kind = scene.focused.kind
    served = task if task.id in on else rng.choice([t for t in TASKS if t.id in on])
    off = [t for t in TASKS if t.id not in on]
    if not off:
        return None
    return served, rng.choice([t for t in off if kind in t.tools] or off)


def example_from_scene(
    scene: Scene,
    task_id: str,
    task_text: str,
    example_id: str,
    split: str | None = None,
    policy: Policy = GENERAL,
    image: Optional[Image.Image] = None,
    **meta,
) -> Example:
    """Render a scene (unless its image is given) and label it for a task under a team's policy
    (split: default from the id's hash)."""
    task = TASKS_BY_ID[task_id]
    label = label_scene(scene, task, policy)
    return Example(
        id=example_id,
        image=image if image is not None else render(scene),
        task=task_text,
        label=label.label,
        label_source="rule",
        windows=scene.evidence(),
        split=split or split_for(example_id),
        hard=label.hard,
        hard_kind=label.hard_kind,
        reason=label.reason,
        meta={"scene": scene.to_dict(), "task_id": task.id, "role": task.role, **meta},
    )


def family_examples(family: str, n: int, seed: int, policy: Policy = GENERAL) -> list[Example]:
    """n rows of an edge family (scene.EDGE_FAMILIES) labelled under a team's policy, in pairs over
    the same pixels: the task the scene was made for, then a task with the other label, so that a
    model that learned "this app means on-task" scores half, not all."""
    out: list[Example] = []
    tools = family_tools(family)
    tasks = [t for t in TASKS if not tools or tools & t.tools] or TASKS
    i = 0
    while len(out) < n:
        rng = random.Random(f"{seed}:{family}:{i}")
        task = rng.choice(tasks)
        scene = scenario_scene(rng, task, family)
        own = label_scene(scene, task, policy).label
        others = [t for t in TASKS if label_scene(scene, t, policy).label != own]
        # The other side is the right tool on another task where the family has one.
        others = [t for t in others if tools & t.tools] if tools else others
        rows = [(task, "a")] + ([(rng.choice(others), "b")] if others else [])
        split = split_for(f"{family}-{seed}-{i}")
        image = render(scene)  # both rows of a pair share the pixels
        for t, side in rows[: n - len(out)]:
            out.append(
                example_from_scene(
                    scene,
                    t.id,
                    t.text,
                    f"{family}-{seed}-{i}-{side}",
                    split=split,
                    policy=policy,
                    image=image,
                    scenario=family,
                )
            )
        i += 1
    return out


def generate(
    n: int,
    seed: int = 0,
    contrastive: bool = False,
    workers: Optional[int] = None,
    val_fraction: float = VAL_FRACTION,
) -> Iterator[Example]:
    """n synthetic examples (in same-pixels pairs when contrastive), in order, `val_fraction` of them
    (about) in the validation split. Rows are rendered by
    `workers` processes (default: one per CPU) when there are enough of them to pay for starting
    the processes; row i depends only on (seed, i), so the result is the same either way."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers <= 1 or n < 64:
        for i in range(n):
            yield example_at(seed, i, contrastive, val_fraction)
        return
    # spawn, not fork: the caller may hold threads (a trainer, an HTTP client) that fork would copy.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(functools.partial(_example_at, seed, contrastive, val_fraction), range(n), chunksize=16)


def _example_at(seed: int, contrastive: bool, val_fraction: float, index: int) -> Example:
    return example_at(seed, index, contrastive, val_fraction)


def focused_kind(ex: Example) -> str:
    """The app kind of a synthetic example's focused window ("?" for a customer screenshot)."""
    windows = ex.meta.get("scene", {}).get("windows", [])
    return next((w["kind"] for w in windows if w.get("focused")), "?")


def contact_sheet(examples: list[Example], columns: int = 6, thumb: tuple[int, int] = (400, 250)) -> Image.Image:
    """A grid of thumbnails captioned with the focused app kind, the label and the task."""
    rows = (len(examples) + columns - 1) // columns
    cap = 44
    sheet = Image.new("RGB", (columns * (thumb[0] + 8) + 8, rows * (thumb[1] + cap + 8) + 8), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    f, fb = font("sans", 12), font("bold", 12)
    for i, ex in enumerate(examples):
        r, c = divmod(i, columns)
        x, y = 8 + c * (thumb[0] + 8), 8 + r * (thumb[1] + cap + 8)
        img = ex.image.copy()
        img.thumbnail(thumb)
        sheet.paste(img, (x, y))
        kind = focused_kind(ex)
        color = (22, 130, 60) if ex.label == ON else (190, 40, 40)
        draw.text(
            (x, y + thumb[1] + 4),
            f"{kind} \u2192 {ex.label}" + (f" ({ex.hard_kind})" if ex.hard else ""),
            font=fb,
            fill=color,
        )
        draw.text((x, y + thumb[1] + 22), ex.task[:60], font=f, fill=(60, 60, 60))
    return sheet
