"""Every notebook runs top to bottom in a real kernel (no browser): the kernel-side tier of the e2e tests."""

import json
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_on_cpu_within_a_minute(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    assert elapsed < 60, f"{path.name} took {elapsed:.0f} s"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    state = json.dumps(nb.metadata.get("widgets", {}))
    assert "fxwidgets.widgets." in state  # the notebook's views were created in the kernel


def test_tour_shows_the_heatmap_under_the_name_the_browser_test_uses():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert NOTEBOOKS[0].name == "00_tour.ipynb"
    assert any(c.source.rstrip().endswith("\nheatmap") for c in nb.cells if c.cell_type == "code")
