"""Reports a person can read: a Markdown table and an HTML page with PNG plots (titles, axis
labels, legends) of an evaluation of several systems, and of training curves."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def table_rows(systems: dict[str, dict[str, Any]], slices: list[str]) -> list[list[str]]:
    """[system, accuracy per slice..., ECE on the first slice] as text cells; '-' where not measured."""
    rows = []
    for name, result in systems.items():
        cells = [name]
        for s in slices:
            r = result.get(s)
            cells.append(f"{r['accuracy']:.3f} (n={r['n']})" if r else "-")
        first = result.get(slices[0])
        cells.append(f"{first['ece']:.3f}" if first else "-")
        rows.append(cells)
    return rows


def markdown_table(systems: dict[str, dict[str, Any]], slices: list[str], titles: dict[str, str]) -> str:
    head = ["system", *[titles.get(s, s) for s in slices], f"ECE ({titles.get(slices[0], slices[0])})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(systems, slices)]
    return "\n".join(lines)


def breakdown_table(rows: dict[str, dict[str, tuple[float, int]]], key: str) -> str:
    """A Markdown table of accuracy per group (rows) and system (columns)."""
    systems = list(dict.fromkeys(name for cells in rows.values() for name in cells))
    lines = ["| " + " | ".join([key, *systems]) + " |", "|" + "---|" * (len(systems) + 1)]
    for group, cells in rows.items():
        values = [f"{cells[s][0]:.3f} (n={cells[s][1]})" if s in cells else "-" for s in systems]
        lines.append("| " + " | ".join([group, *values]) + " |")
    return "\n".join(lines)


def accuracy_plot(systems: dict[str, dict[str, Any]], slices: list[str], titles: dict[str, str], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(slices))
    names = list(systems)
    for j, s in enumerate(slices):
        values = [(systems[n].get(s) or {}).get("accuracy", float("nan")) for n in names]
        ax.bar([i + j * width for i in range(len(names))], values, width, label=titles.get(s, s))
    ax.set_xticks([i + width * (len(slices) - 1) / 2 for i in range(len(names))], names, rotation=15, ha="right")
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy by system and slice")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_plot(systems: dict[str, dict[str, Any]], slice_: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0.5, 1], [0.5, 1], color="grey", linestyle=":", label="perfect calibration")
    for name, result in systems.items():
        bins = (result.get(slice_) or {}).get("reliability") or []
        if bins:
            ax.plot(
                [b["confidence"] for b in bins],
                [b["accuracy"] for b in bins],
                marker="o",
                label=f"{name} (ECE {result[slice_]['ece']:.3f})",
            )
    ax.set_xlabel("confidence of the predicted label")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0.5, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Reliability diagram")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_plot(runs: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Held-out accuracy, reward and entropy over optimizer steps, one line per run."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, metrics in runs.items():
        for ax, key in zip(axes, ("val_accuracy", "reward", "entropy")):
            points = [(m["step"], m[key]) for m in metrics if m.get(key) is not None]
            if points:
                ax.plot(*zip(*points), marker="." if key == "val_accuracy" else None, label=name)
        warm = [m["step"] for m in metrics if m.get("phase") == "warm-start"]
        if warm:  # the supervised warm start is reported as such: GRPO starts right of the line
            axes[0].axvline(max(warm), color="grey", linestyle=":", linewidth=1)
            axes[0].annotate(
                f"{name}: warm start ends",
                (max(warm), 0.02),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                rotation=90,
                color="grey",
                ha="left",
                va="bottom",
            )
    for ax, title, ylabel in zip(
        axes, ("Held-out accuracy", "Mean reward", "Mean entropy"), ("accuracy", "reward", "entropy (nats)")
    ):
        ax.set_title(title)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html(
    path: Path, title: str, intro: str, table_md: str, images: list[Path], extra: Optional[dict[str, Any]] = None
) -> Path:
    rows = [r.strip().strip("|").split("|") for r in table_md.splitlines() if not r.startswith("|---")]
    cells = "".join(
        "<tr>"
        + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip())}</{'th' if i == 0 else 'td'}>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    imgs = "".join(f'<figure><img src="{p.name}" alt="{html.escape(p.stem)}"></figure>' for p in images)
    details = f"<pre>{html.escape(json.dumps(extra, indent=1))}</pre>" if extra else ""
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p><table>{cells}</table>{imgs}{details}</body></html>
""")
    return path
