"""The TrueType fonts of every picture the project draws: the synthetic renderer's screens and the
real-screens set's documents and video frames. They come from Debian's font packages; a missing
font is an error that names the file and the package to install, never a silent substitute (a
fallback font changes the pixels, and with them what OCR reads, from one machine to the next)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

_DEJAVU = (Path("/usr/share/fonts/truetype/dejavu"),)
# Debian's older fonts-liberation ships the same files in a folder of its own.
_LIBERATION = (Path("/usr/share/fonts/truetype/liberation2"), Path("/usr/share/fonts/truetype/liberation"))


@dataclass(frozen=True)
class FontFile:
    """Where one style's font file lives and which Debian package installs it."""

    file: str
    package: str
    dirs: tuple[Path, ...]


STYLES: dict[str, FontFile] = {
    "sans": FontFile("DejaVuSans.ttf", "fonts-dejavu-core", _DEJAVU),
    "bold": FontFile("DejaVuSans-Bold.ttf", "fonts-dejavu-core", _DEJAVU),
    "mono": FontFile("DejaVuSansMono.ttf", "fonts-dejavu-core", _DEJAVU),
    "serif": FontFile("DejaVuSerif.ttf", "fonts-dejavu-core", _DEJAVU),
    "ui": FontFile("LiberationSans-Regular.ttf", "fonts-liberation2", _LIBERATION),
}


class FontsMissing(RuntimeError):
    """A font's Debian package is not installed."""


@lru_cache(maxsize=None)
def font(style: str, size: int) -> ImageFont.FreeTypeFont:
    """The TrueType font of `style` (a key of STYLES) at `size` pixels; FontsMissing, naming the
    file, the folders searched and the package, when it is not installed."""
    spec = STYLES[style]
    for folder in spec.dirs:
        if (folder / spec.file).exists():
            return ImageFont.truetype(str(folder / spec.file), size)
    raise FontsMissing(
        f"font {spec.file} ({style}) not found in {', '.join(map(str, spec.dirs))}: install the Debian "
        f"package {spec.package} (`make system-deps` installs every package the project needs)"
    )
