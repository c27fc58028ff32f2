"""One capture: the screenshot and the window evidence, with the user's privacy settings applied
before anything leaves the machine. Pure functions over images and dicts; the desktop is read
in `ontask.agent.desktop` and its backends."""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from PIL import Image, ImageDraw

from ontask.agent.desktop import Desktop, DesktopWindow

# Qwen2.5-VL's default budget at serving (the spec's `serving.modelMaxPixels` guidance): the
# student never sees more, so sending more only costs bandwidth and privacy.
DEFAULT_MAX_PIXELS = 602_112

_MANAGERS = r"(1password|bitwarden|lastpass|enpass|keepass(xc)?|dashlane|keeper|nordpass|proton pass)"
# Password managers, never captured unless the user replaces this list (AgentSettings): an app
# name is a window's WM_CLASS (X11) or app_id (Wayland), matched whole and case-insensitively;
# `title:` + a regular expression is searched in every window's title, for a manager whose app
# name differs (a Flatpak's) and for those that live in a browser tab.
DEFAULT_NEVER_CAPTURE: tuple[str, ...] = (
    "keepassxc",
    "org.keepassxc.keepassxc",
    "keepass",
    "keepass2",
    "1password",
    "bitwarden",
    "com.bitwarden.desktop",
    "lastpass",
    "enpass",
    "seahorse",
    "org.gnome.seahorse.application",
    "qtpass",
    "title:^passwords and keys$",  # Seahorse's window
    r"title:[-–—|] (keepassxc|keepass|1password|bitwarden|enpass|qtpass)$",  # "<vault> - KeePassXC"
    rf"title:\b{_MANAGERS}\b.*\bvaults?\b|\bvaults?\b.*\b{_MANAGERS}\b",  # a web vault's tab
)
# What a never-captured window's pixels become: flat grey reads as no content, where black
# could pass for a dark window.
BLANK = (128, 128, 128)


def split_rules(text: str) -> list[str]:
    """Never-capture rules written as one comma-separated list (an environment variable, a flag).

    A comma inside brackets or parentheses, or escaped with a backslash, stays in its rule, so
    `title:(bank, login)` and `title:x{1,3}` are one rule each; blank items are dropped."""
    rules, current, depth, escaped = [], [], 0, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            rules.append("".join(current))
            current = []
            continue
        current.append(char)
    rules.append("".join(current))
    return [r.strip() for r in rules if r.strip()]


@dataclass(frozen=True)
class Privacy:
    """What the user allows the agent to send.

    Args:
        titles: send window titles (False: app names only, as `--no-titles`).
        never_capture: rules for windows that never leave the machine: an app name (WM_CLASS,
            matched whole, case-insensitively) or `title:REGEX` (searched in the title,
            case-insensitively). Such a window is left out of the evidence, title and all, its
            rectangle is blanked in the screenshot wherever it is, and while one is focused
            nothing is captured at all.
        max_pixels: the screenshot is downscaled to at most this many pixels on the machine.
    """

    titles: bool = True
    never_capture: tuple[str, ...] = DEFAULT_NEVER_CAPTURE
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def of(
        cls,
        titles: bool = True,
        never_capture: Iterable[str] = DEFAULT_NEVER_CAPTURE,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> "Privacy":
        """Privacy settings from a user's rules (blank ones ignored); a `title:` rule that is not
        a regular expression is a ValueError naming it."""
        rules = []
        for rule in (r.strip() for r in never_capture):
            if rule.startswith("title:"):
                try:
                    re.compile(rule[len("title:") :])
                except re.error as e:
                    raise ValueError(f"never-capture rule {rule!r} is not a regular expression: {e}") from None
                rules.append(rule)
            elif rule:
                rules.append(rule.lower())
        return cls(titles, tuple(dict.fromkeys(rules)), max_pixels)

    def never_captures(self, window: dict[str, Any]) -> bool:
        """Whether a window (its `app` and `title`) is one that never leaves the machine.

        Example:
            >>> p = Privacy()
            >>> p.never_captures({"app": "KeePassXC", "title": "bank.kdbx - KeePassXC"})
            True
            >>> p.never_captures({"app": "Chromium", "title": "Vaults | Bitwarden Web Vault - Chromium"})
            True
            >>> p.never_captures({"app": "Chromium", "title": "KeePass - Wikipedia - Chromium"})
            False
            >>> p.never_captures({"app": "org.example.Vaults", "title": "Personal – 1Password"})
            True
        """
        app, title = str(window.get("app") or "").lower(), str(window.get("title") or "")
        for rule in self.never_capture:
            if rule.startswith("title:"):
                if re.search(rule[len("title:") :], title, re.IGNORECASE):
                    return True
            elif app == rule:
                return True
        return False


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
        if privacy.never_captures(w):
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


def blank(image: Image.Image, boxes: Iterable[tuple[int, int, int, int]]) -> Image.Image:
    """A copy of the image with each (x, y, width, height) box painted BLANK (clipped to the
    image; a box of no area paints nothing)."""
    out = image.convert("RGB")  # a copy, whatever the mode: the caller's image stays as it was
    draw = ImageDraw.Draw(out)
    for x, y, w, h in boxes:
        if w > 0 and h > 0:
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=BLANK)
    return out


def capture_of(
    screenshot: Image.Image,
    windows: list[dict[str, Any]],
    privacy: Privacy,
    hidden_titles: Iterable[tuple[int, int, int, int]] = (),
) -> Capture:
    """Apply the privacy settings to a raw screenshot and its windows. A window dict may carry
    its on-screen `geometry` (x, y, width, height, frame included, in the screenshot's pixels):
    a never-captured one's whole rectangle is blanked before anything else, even where a window
    above covers part of it (the stacking is not worked out: blanking too much is the safe
    side). `hidden_titles` are blanked too: where the screen shows the title of a never-captured
    window whose contents it does not (a background tab)."""
    evidence = visible_evidence(windows, privacy)
    hidden = [w["geometry"] for w in windows if w.get("geometry") and privacy.never_captures(w)]
    hidden += list(hidden_titles)
    shot = blank(screenshot, hidden) if hidden else screenshot.convert("RGB")
    return Capture(downscale(shot, privacy.max_pixels), evidence, screenshot.size)


def read_desktop(desktop: Desktop, privacy: Privacy, minimised: bool = False) -> Capture:
    """Screenshot and evidence of a desktop (`ontask.agent.desktop.open_desktop`); minimised
    windows are left out unless asked for (they are not on the screen, so only the others'
    rectangles are blanked, and the tabs of never-captured ones in a tab bar). The privacy rules
    are checked before the screen is grabbed."""
    listed = desktop.windows()
    windows = [_with_geometry(w) for w in listed if minimised or not w.minimised]
    visible_evidence(windows, privacy)
    # A background tab is not on the screen, but its title is, in the tab bar; a stack's rows are
    # not all right above the window they name.
    tabs = [tab for w in listed if privacy.never_captures(w.evidence()) for tab in w.tabs]
    return capture_of(desktop.screenshot(), windows, privacy, tabs)


def _with_geometry(window: DesktopWindow) -> dict[str, Any]:
    geometry: Optional[tuple[int, int, int, int]] = None if window.minimised else window.bounds()
    return {**window.evidence(), "geometry": geometry}
