"""One capture: the screenshot and the window evidence, with the user's privacy settings applied
before anything leaves the machine. Pure functions over images and dicts; the desktop is read
in `ontask.agent.desktop` and its backends."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from PIL import Image

from ontask.agent.desktop import Desktop

# Qwen2.5-VL's default budget at serving (the spec's `serving.modelMaxPixels` guidance): the
# student never sees more, so sending more only costs bandwidth and privacy.
DEFAULT_MAX_PIXELS = 602_112


@dataclass(frozen=True)
class Privacy:
    """What the user allows the agent to send.

    Args:
        titles: send window titles (False: app names only, as `--no-titles`).
        never_capture: apps (WM_CLASS, case-insensitive) whose windows are dropped from the
            evidence; when one of them is focused nothing is captured at all.
        max_pixels: the screenshot is downscaled to at most this many pixels on the machine.
    """

    titles: bool = True
    never_capture: frozenset[str] = frozenset()
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def of(
        cls, titles: bool = True, never_capture: Iterable[str] = (), max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> "Privacy":
        return cls(titles, frozenset(a.strip().lower() for a in never_capture if a.strip()), max_pixels)


class CaptureRefused(RuntimeError):
    """The focused window belongs to an app the user never captures."""


@dataclass
class Capture:
    """A screenshot at the model's budget and the evidence that goes with it."""

    image: Image.Image
    windows: list[dict[str, Any]] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)

    def jpeg(self, quality: int = 90) -> bytes:
        """The screenshot as JPEG: a tenth of a PNG's bytes for a desktop at the model's budget."""
        buf = io.BytesIO()
        self.image.save(buf, format="JPEG", quality=quality)
        return buf.getvalue()


def downscale(image: Image.Image, max_pixels: int) -> Image.Image:
    """The image shrunk (aspect kept) to at most max_pixels; never enlarged.

    Example:
        >>> downscale(Image.new("RGB", (1920, 1080)), 602_112).size
        (1034, 581)
    """
    w, h = image.size
    if w * h <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (w * h))
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def visible_evidence(windows: list[dict[str, Any]], privacy: Privacy) -> list[dict[str, Any]]:
    """The windows the user lets the agent send, focused last (as the prompt reads them).

    Raises CaptureRefused when the focused window is one the user never captures: a screenshot of
    it would show what the rule protects.

    Example:
        >>> visible_evidence([{"app": "KeePassXC", "title": "vault", "focused": True}],
        ...                  Privacy.of(never_capture=["keepassxc"]))  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ...
        ontask.agent.capture.CaptureRefused: the focused window (KeePassXC) is never captured
    """
    out = []
    for w in windows:
        app = str(w.get("app") or "")
        if app.lower() in privacy.never_capture:
            if w.get("focused"):
                raise CaptureRefused(f"the focused window ({app}) is never captured")
            continue
        kept = {
            "app": app,
            "title": str(w.get("title") or "") if privacy.titles else "",
            "url": w.get("url") if privacy.titles else None,
            "focused": bool(w.get("focused")),
        }
        out.append(kept)
    return sorted(out, key=lambda w: w["focused"])


def capture_of(screenshot: Image.Image, windows: list[dict[str, Any]], privacy: Privacy) -> Capture:
    """Apply the privacy settings to a raw screenshot and its windows."""
    evidence = visible_evidence(windows, privacy)
    return Capture(downscale(screenshot.convert("RGB"), privacy.max_pixels), evidence, screenshot.size)


def read_desktop(desktop: Desktop, privacy: Privacy, minimised: bool = False) -> Capture:
    """Screenshot and evidence of a desktop (`ontask.agent.desktop.open_desktop`); minimised
    windows are left out unless asked for (they are not on the screen). The privacy rules are
    checked before the screen is grabbed."""
    windows = [w.evidence() for w in desktop.windows() if minimised or not w.minimised]
    visible_evidence(windows, privacy)
    return capture_of(desktop.screenshot(), windows, privacy)
