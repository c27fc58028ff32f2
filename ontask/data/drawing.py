"""What every part of a rendered screen draws with: the palettes of the two themes, each app
kind's colour, lengths at the scene's scale, text fitted to a width, and filler lines about a
window's topic. Deterministic, as the renderer is."""

from __future__ import annotations

import random

from PIL import ImageFont

from ontask.data.catalog import TOPICS
from ontask.data.scene import Scene, WindowSpec

PALETTES = {
    "light": dict(
        bg=(246, 247, 249),
        fg=(30, 32, 36),
        muted=(110, 116, 126),
        bar=(232, 234, 238),
        title=(222, 225, 230),
        title_fg=(20, 22, 26),
        border=(170, 175, 185),
        accent=(37, 99, 235),
        panel=(255, 255, 255),
        line=(220, 223, 228),
    ),
    "dark": dict(
        bg=(32, 34, 40),
        fg=(225, 228, 232),
        muted=(150, 156, 166),
        bar=(24, 26, 30),
        title=(48, 51, 58),
        title_fg=(235, 237, 240),
        border=(70, 74, 84),
        accent=(96, 165, 250),
        panel=(40, 43, 50),
        line=(60, 64, 72),
    ),
}

APP_COLORS = {
    "editor": (0, 122, 204),
    "terminal": (40, 40, 40),
    "docs": (255, 149, 0),
    "spreadsheet": (16, 124, 65),
    "document": (43, 87, 154),
    "email": (0, 114, 198),
    "chat": (74, 21, 75),
    "issues": (36, 41, 47),
    "video": (230, 33, 23),
    "social": (29, 155, 240),
    "shop": (255, 153, 0),
    "game": (120, 60, 200),
    "design": (162, 89, 255),
    "crm": (0, 161, 224),
    "music": (30, 215, 96),
}


def scaled(scene: Scene, length: float) -> int:
    """A length in pixels of a 1x screen, at the scene's scale (at least 1)."""
    return max(1, int(round(length * scene.scale)))


def fit_text(text: str, f: ImageFont.FreeTypeFont, width: int) -> str:
    """The text, cut with an ellipsis where it would run wider than `width` in font `f`."""
    if f.getlength(text) <= width:
        return text
    while text and f.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def topic_lines(w: WindowSpec, n: int) -> list[str]:
    """`n` lines of a window's text: most from its topic, the rest filler, drawn by its seed."""
    rng = random.Random(w.seed)
    t = TOPICS[w.topic]
    filler = (
        "Lorem ipsum dolor sit amet",
        "see the notes below",
        "updated 2 hours ago",
        "as discussed yesterday",
        "TODO: review",
        "next steps",
        "approved",
        "pending",
    )
    return [rng.choice(t.lines) if rng.random() < 0.6 else rng.choice(filler) for _ in range(n)]
