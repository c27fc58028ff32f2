"""Synthetic screens: screenshots rendered per second (1280x800) and variants per second.

Reference point in the same run: PNG-encoding the same screenshots (the cost of merely
storing them), so the renderer's cost reads against I/O it cannot avoid.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace

from ontask.data.catalog import TASKS
from ontask.data.generate import example_at
from ontask.data.render import render
from ontask.data.scene import scenario_for, scenario_scene
from ontask.data.variants import make_variants
from ontask.images import encode_png

N_SCREENS = 60
N_VARIANTS = 60


def _scenes(n: int):
    rng = random.Random(0)
    out = []
    while len(out) < n:
        task = rng.choice(TASKS)
        scene = scenario_scene(rng, task, scenario_for(task, rng))
        if (scene.width, scene.height) != (1280, 800):
            scale = (1280 / scene.width, 800 / scene.height)
            wins = tuple(
                replace(
                    w,
                    box=(
                        int(w.box[0] * scale[0]),
                        int(w.box[1] * scale[1]),
                        int(w.box[2] * scale[0]),
                        int(w.box[3] * scale[1]),
                    ),
                )
                for w in scene.windows
            )
            scene = replace(scene, width=1280, height=800, scale=1.0, windows=wins)
        out.append(scene)
    return out


def run() -> None:
    scenes = _scenes(N_SCREENS)
    t0 = time.perf_counter()
    images = [render(s) for s in scenes]
    render_rate = N_SCREENS / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for img in images:
        encode_png(img)
    png_rate = N_SCREENS / (time.perf_counter() - t0)
    parents = [example_at(0, i) for i in range(6)]
    t0 = time.perf_counter()
    made = sum(len(make_variants(p, N_VARIANTS // len(parents), seed=1)) for p in parents)
    variant_rate = made / (time.perf_counter() - t0)
    print(f"{'what (1280x800, 1 process)':<40} {'per second':>12}")
    print(f"{'screenshots rendered':<40} {render_rate:>12.1f}")
    print(f"{'  reference: PNG encode of the same':<40} {png_rate:>12.1f}")
    print(f"{'variants from corrections':<40} {variant_rate:>12.1f}")
