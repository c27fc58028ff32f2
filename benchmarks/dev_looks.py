"""Dev sets for the title-bar reader: the grown set's training scenes shot on looks in neither the
training nor the validation plan (`ontask.realscreens.looks.LOOKS`), to check a rule found on the
training looks on window managers and themes it was not made on, without ever looking into the
validation looks. Not part of `make test` or `make bench`: the window managers below are Debian
packages `make system-deps` does not install (`apt-get install blackbox jwm wmaker`).

    python -m benchmarks.dev_looks themes   OUT   # openbox Natura, Nightmare; xfwm4 Daloa
    python -m benchmarks.dev_looks wms      OUT   # blackbox Blue, Gray; jwm at 2x
    python -m benchmarks.dev_looks wmaker   OUT   # Window Maker Blau, SteelBlueSilk
    python -m benchmarks.dev_looks score    OUT [OUT ...]

`score` prints the share of screens whose focused window is read right (`bench_ocr.read_right`),
counting OCR slips and with none. blackbox is fluxbox's ancestor (fluxbox is a validation window
manager): its styles look alike, so the Window Maker set was shot after the rules and only
measured."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ontask.realscreens import looks
from ontask.realscreens.looks import Look
from ontask.realscreens.wms import WINDOW_MANAGERS, WindowManager


def _blackbox(home: Path, theme: str) -> list[list[str]]:
    rc = home / ".blackboxrc"
    rc.write_text(f"session.styleFile: /usr/share/blackbox/styles/{theme}\n")
    return [["blackbox", "-rc", str(rc)]]


def _jwm(home: Path, theme: str) -> list[list[str]]:
    # The system's configuration without its clock: a screen that changes every minute is not still.
    rc = re.sub(r"<Clock.*?</Clock>", "", Path(f"/etc/jwm/{theme}.jwmrc").read_text(), flags=re.S)
    (home / ".jwmrc").write_text(rc)
    return [["jwm", "-f", str(home / ".jwmrc")]]


def _wmaker(home: Path, theme: str) -> list[list[str]]:
    # setstyle writes the theme into the desktop's own GNUstep defaults before Window Maker reads them.
    style = f"/usr/share/WindowMaker/Themes/{theme}.style"
    script = f"HOME={home} setstyle --no-fonts {style} >/dev/null 2>&1; HOME={home} exec wmaker --no-dock --no-clip"
    return [["sh", "-c", script]]


DEV_WINDOW_MANAGERS = (
    WindowManager("blackbox", "blackbox", "blackbox", "/usr/share/blackbox/styles/{theme}", _blackbox),
    WindowManager("jwm", "jwm", "jwm", "/etc/jwm/{theme}.jwmrc", _jwm),
    WindowManager("wmaker", "wmaker", "wmaker", "/usr/share/WindowMaker/Themes/{theme}.style", _wmaker),
)

# Shot with the training scenes: `build_looks` deals only training shots to looks of split "train".
DEV_LOOKS: dict[str, tuple[Look, ...]] = {
    "themes": (
        Look("openbox-natura", "openbox", "Natura", (1920, 1080), 1, "light", "train"),
        Look("openbox-nightmare-dark", "openbox", "Nightmare", (1280, 800), 1, "dark", "train"),
        Look("xfwm4-daloa", "xfwm4", "Daloa", (1920, 1080), 1, "light", "train"),
    ),
    "wms": (
        Look("blackbox-blue", "blackbox", "Blue", (1920, 1080), 1, "light", "train"),
        Look("blackbox-gray-dark", "blackbox", "Gray", (1280, 800), 1, "dark", "train"),
        Look("jwm-system-hidpi", "jwm", "system", (2560, 1440), 2, "dark", "train"),
    ),
    "wmaker": (
        Look("wmaker-blau", "wmaker", "Blau", (1920, 1080), 1, "light", "train"),
        Look("wmaker-steel-dark", "wmaker", "SteelBlueSilk", (1280, 800), 1, "dark", "train"),
    ),
}


def shoot(name: str, out: Path, per_look: int = looks.FULL_PER_LOOK) -> Path:
    """Shoot dev set `name` into `out` with the grown set's builder, its looks put in the plan's place."""
    from ontask.realscreens.looks_build import build_looks

    for wm in DEV_WINDOW_MANAGERS:
        WINDOW_MANAGERS.setdefault(wm.name, wm)
    looks.LOOKS = DEV_LOOKS[name]
    return build_looks(out, per_look=per_look)


def score(folders: list[Path]) -> dict[str, tuple[float, float, int]]:
    """{set folder's name: (focused right counting OCR slips, with none, screens)}."""
    from benchmarks.bench_ocr import _no_slip, read_screen
    from ontask.verify.ocr import TitleReader

    out = {}
    for folder in folders:
        read = TitleReader().windows
        screens = [json.loads(line) for line in (folder / "screens.jsonl").read_text().splitlines()]
        outcomes = [read_screen(read, folder, s)[0] for s in screens]
        n = len(outcomes)
        out[folder.name] = (sum(o is not None for o in outcomes) / n, sum(map(_no_slip, outcomes)) / n, n)
    return out


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "score":
        for name, (right, strict, n) in score([Path(a) for a in argv[1:]]).items():
            print(f"{name:<24} {n:>4} screens  focused right {right:.3f}  no slip {strict:.3f}")
    elif len(argv) == 2 and argv[0] in DEV_LOOKS:
        shoot(argv[0], Path(argv[1]))
    else:
        sys.exit(f"usage: python -m benchmarks.dev_looks {{{','.join(DEV_LOOKS)}}} OUT | score OUT [OUT ...]")


if __name__ == "__main__":
    main(sys.argv[1:])
