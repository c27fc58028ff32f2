"""The labelling rule: on-task or off-task for a (scene, task) pair, from the scene's ground
truth, with the reason and whether the case is hard (and which kind of hard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ontask.data.catalog import ENTERTAINMENT_KINDS, TOPICS, Task
from ontask.data.scene import Scene, WindowSpec
from ontask.labels import OFF, ON


@dataclass(frozen=True)
class Label:
    label: str
    reason: str
    hard: bool = False
    hard_kind: Optional[str] = None


@dataclass(frozen=True)
class Policy:
    """A team's own rule on top of the general ones, which no verifier rule or prompt knows and only
    its corrections can teach: app kinds that count as on-task while the task's work is open
    behind them (e.g. the team's focus music)."""

    name: str = "general"
    on_task_kinds: frozenset[str] = frozenset()


GENERAL = Policy()
# The edge family of the demo and the convergence benchmark: a team that works to focus music.
FOCUS_MUSIC_TEAM = Policy("focus music counts as on-task", frozenset({"music"}))


def window_on_task(w: WindowSpec, task: Task) -> tuple[bool, str]:
    """Whether attending to this one window serves the task, and why."""
    about = f"about {w.topic}"
    related = w.topic in task.topics
    if w.kind == "game":
        return False, f"{w.app} is a game"
    if w.kind == "social":
        return False, f"{w.site or w.app} is a social feed" + (f", although the post is {about}" if related else "")
    if w.kind == "music":
        return False, f"{w.app} plays music"
    if w.kind == "video":
        if w.tutorial and related:
            return True, f"the video is a tutorial on {w.topic}, which the task needs"
        return False, f"the video is {about}, not a tutorial for the task" if w.tutorial else f"the video is {about}"
    if w.kind == "shop":
        if task.allows_shopping and related:
            return True, f"the task is to buy {w.topic} and the shop shows {w.topic}"
        return False, f"shopping for {w.topic}"
    if w.kind == "docs":
        return (
            (True, f"the documentation is on {w.topic}, which the task is about")
            if related
            else (False, f"the documentation is on {w.topic}, unrelated to the task")
        )
    if w.kind in ("chat", "email"):
        if related:
            return True, f"the {w.kind} is with colleagues about {w.topic}, the task's subject"
        return False, f"the {w.kind} is {about}" + ("" if TOPICS[w.topic].work else ", not work")
    if w.kind not in task.tools:
        return False, f"{w.app} ({w.kind}) is not a tool of this task"
    shown = w.heading or w.title
    if not related:
        return False, f"{w.app} shows {shown!r}, another piece of work than the task"
    return True, f"{w.app} shows {shown!r}, the task's work"


def label_scene(scene: Scene, task: Task, policy: Policy = GENERAL) -> Label:
    """The label of a screenshot for a task: the focused window decides, with the hard cases
    the task library makes on purpose (see DESIGN.md and the tests' table), under a team's policy."""
    focused = scene.focused
    on, why = window_on_task(focused, task)
    if focused.kind in policy.on_task_kinds:
        work = [w for w in scene.windows if not w.focused and window_on_task(w, task)[0]]
        if work:
            return Label(
                ON,
                f"{why}, which this team counts as on-task ({policy.name}) while {work[0].app} shows the task's work",
                True,
                "team-policy",
            )
    if focused.kind in ENTERTAINMENT_KINDS and focused.topic in task.topics and not on:
        return Label(OFF, why, True, "distraction-names-task")
    if scene.layout == "split":
        other = next(w for w in scene.windows if not w.focused)
        other_on, other_why = window_on_task(other, task)
        if on and not other_on and other.kind in ENTERTAINMENT_KINDS:
            return Label(
                OFF, f"split screen: {why}, but the other half is entertainment ({other_why})", True, "split-screen"
            )
        return Label(
            ON if on else OFF, f"split screen: focused half: {why}; other half: {other_why}", True, "split-screen"
        )
    label = ON if on else OFF
    if focused.heading and focused.heading != focused.title:
        return Label(
            label, f"{why} (under the generic title {focused.title!r}: the page's text decides)", True, "generic-title"
        )
    if focused.kind == "docs":
        return Label(label, why, True, "docs-related" if on else "docs-unrelated")
    if focused.kind == "video" and focused.tutorial:
        return Label(label, why, True, "tutorial-video")
    if focused.kind == "chat":
        return Label(label, why, True, "chat-task" if on else "chat-not-task")
    if focused.kind == "shop" and task.allows_shopping:
        return Label(label, why, True, "shopping-task")
    if on:
        background_fun = [w for w in scene.windows if not w.focused and w.kind in ENTERTAINMENT_KINDS]
        if background_fun:
            return Label(
                ON, f"{why}; the {background_fun[0].kind} window is in the background", True, "background-distraction"
            )
        if scene.notification and not TOPICS[scene.notification.topic].work:
            return Label(ON, f"{why}; a {scene.notification.topic} notification popped up", True, "notification")
    return Label(label, why)
