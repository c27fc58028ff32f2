"""Pillow renderer of desktop scenes: wallpaper, taskbar or dock with a clock, windows with
title bars, browser chrome (tabs and URL bar), app bodies for every app kind, notifications.

Deterministic: the same scene renders to the same pixels (all randomness comes from the
scene's and each window's seed)."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from ontask.data.drawing import APP_COLORS, PALETTES, fit_text, scaled
from ontask.data.media_bodies import MEDIA_BODIES
from ontask.data.scene import Scene, WindowSpec, bar_heights
from ontask.data.text_bodies import TEXT_BODIES, body_text
from ontask.fonts import font

# How each app kind's window body is drawn (a kind without one is drawn as a page of text).
BODIES = {**TEXT_BODIES, **MEDIA_BODIES}


def render(scene: Scene) -> Image.Image:
    """The screenshot of a scene, as an RGB image of scene.width x scene.height."""
    img = Image.new("RGB", (scene.width, scene.height))
    draw = ImageDraw.Draw(img)
    pal = PALETTES[scene.theme]
    _wallpaper(img, scene)
    for w in scene.windows:
        # Each window is drawn on a copy and pasted back within its box, so bodies never
        # spill outside their frame.
        layer = img.copy()
        _window(layer, ImageDraw.Draw(layer), scene, w, pal)
        x0, y0, x1, y1 = w.box
        shadow = 6 if scene.layout != "split" and (x1 - x0) < scene.width else 0
        img.paste(layer.crop((x0, y0, x1 + 1 + shadow, y1 + 1 + shadow)), (x0, y0))
    _bars(draw, scene, pal)
    if scene.notification:
        _notification(draw, scene, pal)
    return img


def _wallpaper(img: Image.Image, scene: Scene) -> None:
    rng = random.Random(scene.seed)
    top = (rng.randint(20, 90), rng.randint(40, 110), rng.randint(90, 170))
    bottom = (rng.randint(90, 180), rng.randint(40, 120), rng.randint(60, 150))
    draw = ImageDraw.Draw(img)
    for y in range(0, scene.height, 4):
        t = y / scene.height
        c = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom))
        draw.rectangle((0, y, scene.width, y + 4), fill=c)


def _bars(draw: ImageDraw.ImageDraw, scene: Scene, pal: dict) -> None:
    top, bottom = bar_heights(scene.dock, scene.height, scene.scale)
    f = font("ui", scaled(scene, 13))
    if scene.dock == "dock":
        draw.rectangle((0, 0, scene.width, top), fill=pal["bar"])
        draw.text(
            (scaled(scene, 12), top // 2),
            f"\u25cf  {scene.focused.app}   File   Edit   View   Window   Help",
            font=f,
            fill=pal["fg"],
            anchor="lm",
        )
        draw.text(
            (scene.width - scaled(scene, 12), top // 2),
            f"Thu 26 Nov  {scene.clock}",
            font=f,
            fill=pal["fg"],
            anchor="rm",
        )
        n = len(scene.windows) + 4
        size = scaled(scene, 40)
        x0 = scene.width // 2 - n * (size + 8) // 2
        y0 = scene.height - bottom + (bottom - size) // 2
        draw.rounded_rectangle(
            (x0 - 10, y0 - 6, x0 + n * (size + 8) + 2, y0 + size + 6),
            radius=scaled(scene, 14),
            fill=tuple(min(255, c + 10) for c in pal["bar"]),
        )
        kinds = [w.kind for w in scene.windows] + ["docs", "email", "chat", "terminal"]
        for i, kind in enumerate(kinds[:n]):
            x = x0 + i * (size + 8)
            draw.rounded_rectangle((x, y0, x + size, y0 + size), radius=scaled(scene, 9), fill=APP_COLORS[kind])
    else:
        y = scene.height - bottom
        draw.rectangle((0, y, scene.width, scene.height), fill=pal["bar"])
        draw.rounded_rectangle(
            (scaled(scene, 6), y + 5, scaled(scene, 80), scene.height - 5), radius=4, fill=pal["accent"]
        )
        draw.text((scaled(scene, 43), y + bottom // 2), "Start", font=f, fill=(255, 255, 255), anchor="mm")
        x = scaled(scene, 90)
        for w in scene.windows:
            width = scaled(scene, 170)
            fill = pal["title"] if not w.focused else tuple(min(255, c + 25) for c in pal["title"])
            draw.rectangle((x, y + 4, x + width, scene.height - 4), fill=fill)
            draw.rectangle((x + 6, y + 10, x + 20, scene.height - 10), fill=APP_COLORS[w.kind])
            draw.text((x + 26, y + bottom // 2), fit_text(w.app, f, width - 30), font=f, fill=pal["fg"], anchor="lm")
            x += width + 4
        draw.text((scene.width - scaled(scene, 12), y + bottom // 2), scene.clock, font=f, fill=pal["fg"], anchor="rm")


def _window(img: Image.Image, draw: ImageDraw.ImageDraw, scene: Scene, w: WindowSpec, pal: dict) -> None:
    x0, y0, x1, y1 = w.box
    if scene.layout != "split" and (x1 - x0) < scene.width:
        draw.rectangle((x0 + 6, y0 + 6, x1 + 6, y1 + 6), fill=(0, 0, 0))  # shadow
    draw.rectangle((x0, y0, x1, y1), fill=pal["panel"], outline=pal["border"])
    th = scaled(scene, 30)
    title_fill = pal["title"] if w.focused else pal["bar"]
    draw.rectangle((x0, y0, x1, y0 + th), fill=title_fill)
    f = font("sans", scaled(scene, 14))  # DejaVu, as desktop title bars use: wide enough that "rn" is not "m"
    buttons = scaled(scene, 70)
    if scene.dock == "dock":  # traffic lights on the left
        for i, c in enumerate(((255, 95, 87), (255, 189, 46), (39, 201, 63))):
            cx = x0 + scaled(scene, 14) + i * scaled(scene, 20)
            draw.ellipse((cx - 6, y0 + th // 2 - 6, cx + 6, y0 + th // 2 + 6), fill=c)
        draw.text(
            ((x0 + x1) // 2, y0 + th // 2),
            fit_text(w.title_bar, f, x1 - x0 - 2 * buttons),
            font=f,
            fill=pal["title_fg"],
            anchor="mm",
        )
    else:
        draw.text(
            (x0 + scaled(scene, 10), y0 + th // 2),
            fit_text(w.title_bar, f, x1 - x0 - buttons - 20),
            font=f,
            fill=pal["title_fg"],
            anchor="lm",
        )
        for i, sym in enumerate(("\u2013", "\u25a1", "\u2715")):
            cx = x1 - scaled(scene, 16) - (2 - i) * scaled(scene, 24)
            draw.text((cx, y0 + th // 2), sym, font=f, fill=pal["title_fg"], anchor="mm")
    top = y0 + th
    if w.browser:
        top = _browser_chrome(draw, scene, w, pal, top)
    body = (x0 + 1, top, x1 - 1, y1 - 1)
    BODIES.get(w.kind, body_text)(img, ImageDraw.Draw(img), scene, w, pal, body)


def _browser_chrome(draw: ImageDraw.ImageDraw, scene: Scene, w: WindowSpec, pal: dict, top: int) -> int:
    x0, _, x1, _ = w.box
    tab_h, url_h = scaled(scene, 28), scaled(scene, 34)
    f = font("ui", scaled(scene, 12))
    draw.rectangle((x0 + 1, top, x1 - 1, top + tab_h), fill=pal["bar"])
    tab_w = min(scaled(scene, 220), (x1 - x0) // 3)
    draw.rounded_rectangle((x0 + 8, top + 4, x0 + 8 + tab_w, top + tab_h + 4), radius=6, fill=pal["panel"])
    draw.text((x0 + 18, top + tab_h // 2 + 2), fit_text(w.title, f, tab_w - 20), font=f, fill=pal["fg"], anchor="lm")
    other = "New Tab" if w.seed % 2 else "Inbox (3)"
    draw.text(
        (x0 + 24 + tab_w, top + tab_h // 2 + 2), fit_text(other, f, tab_w - 20), font=f, fill=pal["muted"], anchor="lm"
    )
    top += tab_h
    draw.rectangle((x0 + 1, top, x1 - 1, top + url_h), fill=pal["panel"])
    fu = font("sans", scaled(scene, 14))
    draw.text(
        (x0 + 14, top + url_h // 2),
        "\u2190  \u2192  \u21bb",
        font=font("sans", scaled(scene, 14)),
        fill=pal["muted"],
        anchor="lm",
    )
    bar_x = x0 + scaled(scene, 90)
    draw.rounded_rectangle(
        (bar_x, top + 5, x1 - 14, top + url_h - 5), radius=scaled(scene, 12), fill=pal["bg"], outline=pal["line"]
    )
    draw.text(
        (bar_x + 14, top + url_h // 2), fit_text(w.url or "", fu, x1 - bar_x - 40), font=fu, fill=pal["fg"], anchor="lm"
    )
    draw.line((x0 + 1, top + url_h, x1 - 1, top + url_h), fill=pal["line"])
    return top + url_h + 1


def _notification(draw: ImageDraw.ImageDraw, scene: Scene, pal: dict) -> None:
    n = scene.notification
    assert n is not None
    w, h = scaled(scene, 360), scaled(scene, 78)
    top, _ = bar_heights(scene.dock, scene.height, scene.scale)
    x1, y0 = scene.width - 16, top + 16
    draw.rounded_rectangle((x1 - w, y0, x1, y0 + h), radius=10, fill=pal["panel"], outline=pal["border"])
    draw.rounded_rectangle((x1 - w + 12, y0 + 14, x1 - w + 44, y0 + 46), radius=6, fill=APP_COLORS["chat"])
    draw.text((x1 - w + 56, y0 + 12), n.app, font=font("bold", scaled(scene, 13)), fill=pal["fg"])
    draw.text(
        (x1 - w + 56, y0 + 36),
        fit_text(n.text, font("ui", scaled(scene, 13)), w - 70),
        font=font("ui", scaled(scene, 13)),
        fill=pal["fg"],
    )
