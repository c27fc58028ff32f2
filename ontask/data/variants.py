"""Synthetic variants of a corrected example, so one correction teaches more than one row.

Label-keeping variants work on any screenshot: crops and rescales that keep the decisive
(focused) window, colour and theme changes, JPEG re-encoding, paraphrased task descriptions.
For synthetic scenes there are more: moved windows, re-rendered titles with another document
of the same kind, and counterfactuals that change only the decisive element and so flip the
label (the labelling rule decides the new label). Each variant records its parent and how it
was made.
"""

from __future__ import annotations

import io
import random
from dataclasses import replace
from typing import Optional

from PIL import Image, ImageEnhance, ImageOps

from ontask.data.catalog import TASKS, TASKS_BY_ID, TOPICS
from ontask.data.dataset import Example
from ontask.data.labels import label_scene, window_on_task
from ontask.data.render import render
from ontask.data.scene import Scene, generic_title, make_window
from ontask.labels import OFF, ON

_PARAPHRASE_TEMPLATES = (
    "{t}",
    "Current task: {t}",
    "I am supposed to {l}",
    "Goal for this hour: {l}",
    "{t} (today's priority)",
    "Focus: {l}",
)


def paraphrase(task: str, rng: random.Random) -> str:
    """Another wording of a task: the library's own paraphrases when it knows the task, else a template."""
    known = next((t for t in TASKS if t.text == task), None)
    if known and known.paraphrases and rng.random() < 0.6:
        return rng.choice(known.paraphrases)
    lower = task[0].lower() + task[1:] if task else task
    return rng.choice(_PARAPHRASE_TEMPLATES).format(t=task, l=lower)


def _crop_keeping(img: Image.Image, box: Optional[tuple[int, int, int, int]], rng: random.Random) -> Image.Image:
    w, h = img.size
    if box is None:
        box = (int(w * 0.1), int(h * 0.1), int(w * 0.9), int(h * 0.9))
    x0 = rng.randint(0, max(0, box[0]))
    y0 = rng.randint(0, max(0, box[1]))
    x1 = rng.randint(min(w, box[2]), w)
    y1 = rng.randint(min(h, box[3]), h)
    return img.crop((x0, y0, max(x1, x0 + 16), max(y1, y0 + 16)))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _pixel_variant(img: Image.Image, box, rng: random.Random) -> tuple[Image.Image, list[str]]:
    """Label-keeping pixel changes (at least one)."""
    ops: list[str] = []
    out = img
    choices = ["crop", "rescale", "colour", "jpeg", "invert-theme"]
    for op in rng.sample(choices, rng.randint(1, 3)):
        if op == "crop":
            out = _crop_keeping(out, box if out is img else None, rng)
        elif op == "rescale":
            f = rng.uniform(0.6, 1.2)
            out = out.resize((max(16, int(out.width * f)), max(16, int(out.height * f))), Image.Resampling.BILINEAR)
            op = f"rescale:{f:.2f}"
        elif op == "colour":
            out = ImageEnhance.Color(out).enhance(rng.uniform(0.5, 1.5))
            out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
        elif op == "jpeg":
            q = rng.randint(35, 85)
            out = _jpeg(out, q)
            op = f"jpeg:{q}"
        elif op == "invert-theme":
            out = ImageOps.invert(out)
        ops.append(op)
    return out, ops


def _scene_variant(scene: Scene, task_id: str, rng: random.Random) -> tuple[Scene, list[str]]:
    """Label-keeping scene changes: moved windows, or another document of the same kind."""
    windows = list(scene.windows)
    if rng.random() < 0.5 and scene.layout != "split":
        moved = []
        for w in windows:
            dx, dy = rng.randint(-80, 80), rng.randint(-40, 40)
            x0, y0, x1, y1 = w.box
            dx = max(-x0, min(dx, scene.width - x1))
            dy = max(-y0, min(dy, scene.height - y1))
            moved.append(replace(w, box=(x0 + dx, y0 + dy, x1 + dx, y1 + dy)))
        return scene.with_windows(tuple(moved)), ["move-windows"]
    i = next(k for k, w in enumerate(windows) if w.focused)
    f = windows[i]
    fresh = make_window(rng, f.kind, f.topic, f.box, focused=True, tutorial=f.tutorial)
    fresh = replace(
        fresh, app=f.app, site=f.site, browser=f.browser, url=fresh.url if f.browser == bool(fresh.url) else f.url
    )
    # A generic title is what made such a row hard: another page under another generic title.
    windows[i] = generic_title(rng, fresh) if f.heading else fresh
    return scene.with_windows(tuple(windows)), ["retitle-focused"]


def _counterfactual(scene: Scene, task_id: str, was: str, rng: random.Random) -> tuple[Scene, list[str]]:
    """Change only the decisive (focused) window so that the label flips. `was` is the parent's
    label, which for a correction is the user's and not the general rule's (the team's focus music
    counts as on-task; its counterfactual is a video or a game, off-task for every team)."""
    task = TASKS_BY_ID[task_id]
    i = next(k for k, w in enumerate(scene.windows) if w.focused)
    f = scene.windows[i]
    if was == ON:
        kind = rng.choice(("video", "social", "game"))
        topic = "gaming" if kind == "game" else rng.choice([n for n, t in TOPICS.items() if not t.work])
        tutorial = False
    else:
        kind = (
            rng.choice(sorted(k for k in task.tools if k not in ("video", "shop", "docs")))
            if any(k not in ("video", "shop", "docs") for k in task.tools)
            else sorted(task.tools)[0]
        )
        topic = rng.choice(sorted(task.topics))
        tutorial = kind == "video"
    new = make_window(rng, kind, topic, f.box, focused=True, tutorial=tutorial)
    if f.heading and kind == "document":  # keep the page, not the title, as what decides
        new = generic_title(rng, new)
    windows = list(scene.windows)
    windows[i] = new
    return scene.with_windows(tuple(windows)), [f"counterfactual:{f.kind}/{f.topic}->{kind}/{topic}"]


def _scene_of(parent: Example) -> Optional[dict]:
    """The rendered scene a synthetic row was drawn from; None for a customer's or a real
    screenshot (whose meta may name its scene as a string)."""
    scene = parent.meta.get("scene")
    return scene if isinstance(scene, dict) else None


def unrelated_task(parent: Example, rng: random.Random) -> Optional[str]:
    """A library task that nothing on the parent's screen serves, or None: with a scene, one for
    which the general rule finds no window on-task; otherwise one whose words appear in no window's
    app, title or URL. On the parent's pixels it is off-task whatever the team's policy, which
    is the other side of an on-task correction (the focus music counts for the task whose work is
    open behind it, not for every task)."""
    scene_dict = _scene_of(parent)
    if scene_dict:
        scene = Scene.from_dict(scene_dict)
        options = [t for t in TASKS if not any(window_on_task(w, t)[0] for w in scene.windows)]
    else:
        from ontask.verify.relevance import relevance

        text = " ".join(f"{w.get('app') or ''} {w.get('title') or ''} {w.get('url') or ''}" for w in parent.windows)
        options = [t for t in TASKS if text.strip() and relevance(t.text, text, {})[0] == 0.0]
    options = [t for t in options if t.text != parent.task]
    return rng.choice(options).text if options else None


def other_task_twin(parent: Example, seed: int = 0) -> Optional[Example]:
    """The off-task side of an on-task row: its own pixels with a library task that nothing on
    the screen serves (`unrelated_task`), in the parent's split; None for an off-task or
    unlabelled parent, or when no such task exists. Trained beside bootstrap rows, it teaches
    that the right tool on another task is off-task, the common off-task case on real desks."""
    if parent.label != ON:
        return None
    other = unrelated_task(parent, random.Random(f"{seed}:{parent.id}:twin"))
    if other is None:
        return None
    twin = _other_task_variant(parent, f"{parent.id}~other-task", other)
    twin.split = parent.split
    twin.label_source = f"{parent.label_source}+other-task"
    return twin


def make_variants(
    parent: Example, k: int, seed: int = 0, counterfactual_share: float = 0.2, other_task_share: float = 0.34
) -> list[Example]:
    """k variants of a (corrected) example. Synthetic parents (with a scene in meta) also get
    scene edits and label-flipping counterfactuals; others get pixel and wording changes. An
    on-task parent also gets, at other_task_share, its own pixels with a task nothing on the
    screen serves (off-task), so that a correction teaches "on-task for this task", not "this app
    is always on-task"."""
    rng = random.Random(f"{seed}:{parent.id}")
    scene_dict = _scene_of(parent)
    scene = Scene.from_dict(scene_dict) if scene_dict else None
    task_id = parent.meta.get("task_id")
    box = scene.focused.box if scene else None
    out: list[Example] = []
    for j in range(k):
        vid = f"{parent.id}~v{j}"
        other = unrelated_task(parent, rng) if parent.label == ON and rng.random() < other_task_share else None
        if other is not None:
            out.append(_other_task_variant(parent, vid, other))
            continue
        ops: list[str] = []
        task_text = parent.task
        label = parent.label
        new_scene = None
        flip = scene is not None and task_id and rng.random() < counterfactual_share
        if flip:
            new_scene, ops = _counterfactual(scene, task_id, parent.label, rng)
        elif scene is not None and task_id and rng.random() < 0.4:
            new_scene, ops = _scene_variant(scene, task_id, rng)
        if new_scene is not None:
            image = render(new_scene)
            decided = label_scene(new_scene, TASKS_BY_ID[task_id])
            # A correction overrides the rule for the parent; label-keeping edits keep the
            # corrected label, counterfactuals take the rule's label of the edited scene.
            label = decided.label if flip else parent.label
            windows = new_scene.evidence()
        else:
            image, pixel_ops = _pixel_variant(parent.image, box, rng)
            ops += pixel_ops
            windows = parent.windows
        if rng.random() < 0.5:
            task_text = paraphrase(parent.task, rng)
            ops.append("paraphrase")
        out.append(
            _variant(
                parent,
                vid,
                image,
                task_text,
                label,
                windows,
                ops,
                task_id,
                new_scene.to_dict() if new_scene is not None else None,
            )
        )
    return out


def _other_task_variant(parent: Example, vid: str, task: str) -> Example:
    """The parent's own pixels and windows with `task`, which nothing on them serves: off-task."""
    return _variant(
        parent,
        vid,
        parent.image,
        task,
        OFF,
        parent.windows,
        ["other-task"],
        next((t.id for t in TASKS if t.text == task), None),
        _scene_of(parent),
    )


def _variant(
    parent: Example,
    vid: str,
    image: Image.Image,
    task: str,
    label: str,
    windows: list,
    ops: list[str],
    task_id: Optional[str],
    scene: Optional[dict],
) -> Example:
    """A variant row: the parent's split (a variant of a held-out correction is held out with it),
    hard-case flags and lineage, with how it was made."""
    meta = {"parent": parent.id, "ops": ops, "flips_label": label != parent.label, "task_id": task_id}
    if scene is not None:
        meta["scene"] = scene
    return Example(
        id=vid,
        image=image,
        task=task,
        label=label,
        label_source="variant",
        windows=windows,
        split=parent.split,
        hard=parent.hard,
        hard_kind=parent.hard_kind,
        reason=f"variant of {parent.id}: {', '.join(ops)}",
        meta=meta,
    )
