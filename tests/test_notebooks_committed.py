"""The notebooks are committed executed, with their outputs and without errors.

The rendered book shows the stored outputs (it does not execute anything), so a notebook that
was saved unexecuted or with a traceback would publish a broken chapter.
"""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
# The chapters, and the appendix page that shows the benchmark results.
CHAPTERS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOKS = CHAPTERS + sorted((ROOT / "book").glob("*.ipynb"))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def text(output, key="text"):
    value = output.get(key, "")
    return "".join(value) if isinstance(value, list) else value


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_executed_without_errors(path):
    cells = code_cells(load(path))
    assert cells, f"{path.name} has no code cells"

    unexecuted = [i for i, cell in enumerate(cells) if cell.get("execution_count") is None]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} were never executed"

    with_outputs = sum(1 for cell in cells if cell.get("outputs"))
    assert with_outputs >= len(cells) / 2, (
        f"{path.name}: only {with_outputs} of {len(cells)} code cells have stored outputs"
    )

    for i, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", (
                f"{path.name}: code cell {i} stored an error: "
                f"{output.get('ename')}: {output.get('evalue')}"
            )
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                assert "Traceback" not in text(output), (
                    f"{path.name}: code cell {i} printed a traceback to stderr"
                )


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_notebook_seeds_first(path):
    first = code_cells(load(path))[:3]
    assert any("set_seed(" in source(cell) for cell in first), (
        f"{path.name}: none of the first {len(first)} code cells calls set_seed(...)"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_checked_cells_are_tagged_not_commented(path):
    """nbval's markers live in cell metadata, so the rendered code shows the lesson only.

    A cell whose output nbval must reproduce carries the tag ``nbval-check-output``; the
    old ``# NBVAL_CHECK_OUTPUT`` comment would be printed in the book above the code.
    """
    cells = code_cells(load(path))
    commented = [i for i, cell in enumerate(cells) if "NBVAL_" in source(cell)]
    assert not commented, f"{path.name}: code cells {commented} carry an nbval comment marker"
    checked = [c for c in cells if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    assert checked, f"{path.name}: no cell is tagged nbval-check-output"
