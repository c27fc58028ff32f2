"""Screens and datasets: synthetic desktop screenshots with ground truth, the task library and
its labelling rule, versioned datasets in verl's layout, customer data preparation, and
variants from corrections."""

from ontask.data.dataset import DatasetVersion, Example, list_versions, read_version, write_version
from ontask.data.generate import contact_sheet, example_at, generate
from ontask.data.labels import Label, label_scene
from ontask.data.prepare import prepare
from ontask.data.render import render
from ontask.data.variants import make_variants

__all__ = [
    "DatasetVersion",
    "Example",
    "Label",
    "contact_sheet",
    "example_at",
    "generate",
    "label_scene",
    "list_versions",
    "make_variants",
    "prepare",
    "read_version",
    "render",
    "write_version",
]
