"""One font loader for every picture the project draws: a missing font fails the synthetic
renderer and the real-screens set alike, naming the file, where it looked and what to install."""

from __future__ import annotations

import random

import pytest

from ontask import fonts
from ontask.fonts import FontFile, FontsMissing


@pytest.fixture
def no_fonts(monkeypatch, tmp_path):
    """A machine without the font packages: every style looks in an empty folder."""
    for style, spec in fonts.STYLES.items():
        monkeypatch.setitem(fonts.STYLES, style, FontFile(spec.file, spec.package, (tmp_path / "fonts",)))
    fonts.font.cache_clear()
    yield tmp_path / "fonts"
    fonts.font.cache_clear()


def test_a_missing_font_names_the_file_the_folders_searched_and_the_debian_package(no_fonts):
    with pytest.raises(FontsMissing) as e:
        fonts.font("ui", 12)
    assert "LiberationSans-Regular.ttf" in str(e.value)
    assert str(no_fonts) in str(e.value)
    assert "fonts-liberation2" in str(e.value)


def test_the_renderer_and_the_real_screens_set_fail_alike_without_fonts(no_fonts, tmp_path):
    from ontask.data import render
    from ontask.data.scene import new_scene
    from ontask.realscreens.pages import document, video_frame
    from ontask.realscreens.tasks import PDF, VIDEO, Material

    with pytest.raises(FontsMissing, match="fonts-"):
        render(new_scene(random.Random(0), [("editor", "payments", False)]))
    with pytest.raises(FontsMissing, match="DejaVuSans.ttf.*fonts-dejavu-core"):
        video_frame(Material(VIDEO, "cats", "Funny cats"), tmp_path)
    with pytest.raises(FontsMissing, match="DejaVuSans.ttf.*fonts-dejavu-core"):
        document(Material(PDF, "notes.pdf", "Notes", ("a line",)), tmp_path)


def test_every_style_loads_a_truetype_font_where_the_packages_are_installed():
    fonts.font.cache_clear()
    for style in fonts.STYLES:
        assert fonts.font(style, 14).getname()[0] in (
            "DejaVu Sans",
            "DejaVu Sans Mono",
            "DejaVu Serif",
            "Liberation Sans",
        )


def test_the_command_line_says_which_package_to_install_without_a_traceback(no_fonts, tmp_path, capsys):
    from ontask.cli import main

    assert main(["data", "generate", "--n", "2", "--out", str(tmp_path / "store")]) == 1
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert err.startswith("ontask: error: font ") and "install the Debian package fonts-" in err
