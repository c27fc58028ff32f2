"""The bodies of windows that are mostly pictures: the video player, the social feed, the music
player, the shop, the game and the design canvas."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from ontask.data.catalog import TOPICS
from ontask.data.drawing import APP_COLORS, fit_text, scaled, topic_lines
from ontask.fonts import font


def _body_video(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(15, 15, 15) if scene.theme == "dark" else (249, 249, 249))
    pw = int((x1 - x0) * 0.68)
    ph = min(int(pw * 9 / 16), y1 - y0 - scaled(scene, 90))
    px, py = x0 + 20, y0 + 16
    rng = random.Random(w.seed)
    frame = Image.new("RGB", (max(pw, 1), max(ph, 1)), (0, 0, 0))
    fd = ImageDraw.Draw(frame)
    for i in range(6):
        c = tuple(rng.randint(30, 220) for _ in range(3))
        ex, ey = rng.randint(-50, pw), rng.randint(-50, ph)
        fd.ellipse((ex, ey, ex + rng.randint(40, pw // 2 + 60), ey + rng.randint(40, ph // 2 + 60)), fill=c)
    if w.tutorial:
        fd.rectangle((0, 0, pw, ph), fill=(250, 250, 250))
        fd.text((30, 30), w.title.replace(" - tutorial", ""), font=font("bold", scaled(scene, 20)), fill=(20, 20, 20))
        for i, line in enumerate(TOPICS[w.topic].lines):
            fd.text(
                (30, 80 + i * scaled(scene, 26)),
                f"\u2022 {line}",
                font=font("mono", scaled(scene, 14)),
                fill=(40, 40, 40),
            )
    img.paste(frame, (px, py))
    draw.polygon(
        (
            (px + pw // 2 - 20, py + ph // 2 - 24),
            (px + pw // 2 - 20, py + ph // 2 + 24),
            (px + pw // 2 + 24, py + ph // 2),
        ),
        fill=(255, 255, 255),
    )
    draw.rectangle((px, py + ph - 6, px + pw, py + ph), fill=(90, 90, 90))
    draw.rectangle((px, py + ph - 6, px + int(pw * (rng.random() * 0.8 + 0.1)), py + ph), fill=(230, 33, 23))
    draw.text(
        (px, py + ph + 12),
        fit_text(w.title, font("bold", scaled(scene, 18)), pw),
        font=font("bold", scaled(scene, 18)),
        fill=pal["fg"],
    )
    draw.text(
        (px, py + ph + scaled(scene, 40)),
        f"{rng.randint(10, 999)}K views \u00b7 {rng.randint(1, 11)} months ago",
        font=font("ui", scaled(scene, 13)),
        fill=pal["muted"],
    )
    sx = px + pw + 16
    for i in range(6):
        ty = py + i * scaled(scene, 90)
        if ty > y1 - scaled(scene, 80) or sx > x1 - 60:
            break
        draw.rectangle(
            (sx, ty, sx + min(scaled(scene, 150), x1 - sx - 10), ty + scaled(scene, 80)),
            fill=tuple(rng.randint(40, 200) for _ in range(3)),
        )


def _body_social(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["bg"])
    cw = min(scaled(scene, 560), x1 - x0 - 40)
    cx = (x0 + x1) // 2 - cw // 2
    rng = random.Random(w.seed)
    f, fb = font("ui", scaled(scene, 14)), font("bold", scaled(scene, 14))
    y = y0 + 12
    for line in topic_lines(w, 8):
        if y > y1 - 60:
            break
        h = scaled(scene, 230)
        draw.rounded_rectangle((cx, y, cx + cw, y + h), radius=10, fill=pal["panel"], outline=pal["line"])
        draw.ellipse((cx + 12, y + 12, cx + 48, y + 48), fill=APP_COLORS["social"])
        draw.text(
            (cx + 58, y + 14),
            f"@{rng.choice(['memequeen', 'dailyfun', 'sportsfan', 'trendwatch'])}",
            font=fb,
            fill=pal["fg"],
        )
        draw.text((cx + 58, y + 34), fit_text(line, f, cw - 70), font=f, fill=pal["fg"])
        draw.rectangle((cx + 12, y + 60, cx + cw - 12, y + h - 36), fill=tuple(rng.randint(60, 220) for _ in range(3)))
        draw.text(
            (cx + 12, y + h - 28),
            f"\u2665 {rng.randint(1, 99)}K   \u21bb {rng.randint(1, 9)}K   \u2709",
            font=f,
            fill=pal["muted"],
        )
        y += h + 12


def _body_music(img, draw, scene, w, pal, body):
    """A music player: cover art, a track list, the play bar."""
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(18, 18, 18))
    rng = random.Random(w.seed)
    art = min(scaled(scene, 200), (x1 - x0) // 3, (y1 - y0) // 2)
    c = tuple(rng.randint(40, 200) for _ in range(3))
    draw.rectangle((x0 + 24, y0 + 24, x0 + 24 + art, y0 + 24 + art), fill=c)
    draw.ellipse(
        (x0 + 24 + art // 4, y0 + 24 + art // 4, x0 + 24 + 3 * art // 4, y0 + 24 + 3 * art // 4),
        fill=tuple(255 - v for v in c),
    )
    fb, f = font("bold", scaled(scene, 26)), font("ui", scaled(scene, 14))
    draw.text(
        (x0 + 48 + art, y0 + 24 + art // 2), fit_text(w.title, fb, x1 - x0 - art - 70), font=fb, fill=(255, 255, 255)
    )
    y = y0 + 48 + art
    tracks = list(TOPICS[w.topic].lines) * 2
    rng.shuffle(tracks)
    for i, line in enumerate(tracks):
        if y > y1 - scaled(scene, 90):
            break
        draw.text((x0 + 28, y), f"{i + 1}", font=f, fill=(170, 170, 170))
        draw.text(
            (x0 + 64, y), fit_text(line, f, x1 - x0 - 100), font=f, fill=(30, 215, 96) if i == 0 else (235, 235, 235)
        )
        y += scaled(scene, 30)
    bar = y1 - scaled(scene, 50)
    draw.rectangle((x0, bar, x1, y1), fill=(40, 40, 40))
    mid = (x0 + x1) // 2
    draw.ellipse((mid - 16, bar + 9, mid + 16, bar + 41), fill=(255, 255, 255))
    draw.rectangle((mid - 200, bar + 44, mid + 200, bar + 47), fill=(90, 90, 90))
    draw.rectangle((mid - 200, bar + 44, mid - 200 + rng.randint(20, 380), bar + 47), fill=(30, 215, 96))


def _body_shop(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(255, 255, 255))
    draw.rectangle((x0, y0, x1, y0 + scaled(scene, 44)), fill=(19, 25, 33))
    f, fb = font("ui", scaled(scene, 13)), font("bold", scaled(scene, 14))
    draw.rounded_rectangle((x0 + 120, y0 + 8, x1 - 160, y0 + scaled(scene, 36)), radius=4, fill=(255, 255, 255))
    draw.text((x0 + 130, y0 + scaled(scene, 22)), w.title, font=f, fill=(20, 20, 20), anchor="lm")
    draw.text((x1 - 20, y0 + scaled(scene, 22)), "Cart (2)", font=fb, fill=(255, 255, 255), anchor="rm")
    rng = random.Random(w.seed)
    t = TOPICS[w.topic]
    card_w, card_h = scaled(scene, 200), scaled(scene, 260)
    cols = max(1, (x1 - x0 - 20) // (card_w + 16))
    for i in range(12):
        r, c = divmod(i, cols)
        cx, cy = x0 + 16 + c * (card_w + 16), y0 + scaled(scene, 60) + r * (card_h + 16)
        if cy + card_h > y1:
            break
        draw.rectangle((cx, cy, cx + card_w, cy + card_h), outline=(225, 225, 225))
        draw.rectangle(
            (cx + 10, cy + 10, cx + card_w - 10, cy + card_h - 100), fill=tuple(rng.randint(150, 240) for _ in range(3))
        )
        name = t.lines[i % len(t.lines)].split(" - ")[0]
        draw.text((cx + 10, cy + card_h - 90), fit_text(name, f, card_w - 20), font=f, fill=(20, 20, 20))
        draw.text(
            (cx + 10, cy + card_h - 66), f"${rng.randint(5, 300)}.{rng.randint(0, 99):02d}", font=fb, fill=(177, 39, 4)
        )
        draw.rounded_rectangle(
            (cx + 10, cy + card_h - 40, cx + card_w - 10, cy + card_h - 12), radius=12, fill=(255, 216, 20)
        )
        draw.text((cx + card_w // 2, cy + card_h - 26), "Add to cart", font=f, fill=(20, 20, 20), anchor="mm")


def _body_game(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    rng = random.Random(w.seed)
    draw.rectangle(body, fill=(20, 24, 48))
    for _ in range(60):
        x, y = rng.randint(x0, x1), rng.randint(y0, y1)
        draw.point((x, y), fill=(255, 255, 255))
    ground = y1 - (y1 - y0) // 5
    draw.rectangle((x0, ground, x1, y1), fill=(60, 40, 30))
    for _ in range(8):
        px = rng.randint(x0, max(x0 + 1, x1 - 120))
        draw.rectangle((px, ground - rng.randint(20, 120), px + rng.randint(40, 120), ground), fill=(90, 70, 60))
    hx = (x0 + x1) // 2
    draw.ellipse((hx - 18, ground - 60, hx + 18, ground - 24), fill=(240, 240, 240))
    draw.rectangle((hx - 12, ground - 26, hx + 12, ground), fill=(30, 30, 30))
    f = font("bold", scaled(scene, 16))
    draw.text((x0 + 16, y0 + 12), "HP \u25c6\u25c6\u25c6\u25c6\u25c7   GEO 1240", font=f, fill=(240, 240, 240))
    draw.text((x1 - 16, y0 + 12), "LEVEL 12", font=f, fill=(255, 215, 0), anchor="ra")


def _body_design(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(44, 44, 44))
    f = font("ui", scaled(scene, 12))
    side = min(scaled(scene, 200), (x1 - x0) // 4)
    draw.rectangle((x0, y0, x0 + side, y1), fill=(56, 56, 56))
    draw.rectangle((x1 - side, y0, x1, y1), fill=(56, 56, 56))
    for i, layer in enumerate(["Frame: " + w.title, "Hero", "Headline", "CTA button", "Image", "Nav bar"]):
        draw.text(
            (x0 + 12, y0 + 12 + i * scaled(scene, 22)), fit_text(layer, f, side - 20), font=f, fill=(220, 220, 220)
        )
    for i, prop in enumerate(["W 1440  H 900", "X 0  Y 0", "Fill #FFFFFF", "Radius 8", "Auto layout"]):
        draw.text((x1 - side + 12, y0 + 12 + i * scaled(scene, 22)), prop, font=f, fill=(200, 200, 200))
    cx0, cy0, cx1, cy1 = x0 + side + 30, y0 + 30, x1 - side - 30, y1 - 30
    draw.rectangle((cx0, cy0, cx1, cy1), fill=(255, 255, 255))
    draw.rectangle((cx0, cy0, cx1, cy0 + 40), fill=(240, 240, 245))
    draw.text(
        (cx0 + 20, cy0 + 60),
        fit_text(TOPICS[w.topic].lines[0], font("bold", scaled(scene, 20)), cx1 - cx0 - 40),
        font=font("bold", scaled(scene, 20)),
        fill=(20, 20, 20),
    )
    draw.rounded_rectangle((cx0 + 20, cy0 + 110, cx0 + 160, cy0 + 150), radius=8, fill=(162, 89, 255))
    draw.rectangle((cx0 + (cx1 - cx0) // 2, cy0 + 60, cx1 - 20, cy1 - 20), fill=(220, 225, 240), outline=(24, 160, 251))


MEDIA_BODIES = {
    "video": _body_video,
    "social": _body_social,
    "shop": _body_shop,
    "game": _body_game,
    "design": _body_design,
    "music": _body_music,
}
