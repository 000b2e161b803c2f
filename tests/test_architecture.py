"""The package's layering (docs/architecture.md): no import cycle, no import that runs up the layers."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("layers", ROOT / "scripts" / "layers.py")
layers = importlib.util.module_from_spec(spec)
sys.modules["layers"] = layers
spec.loader.exec_module(layers)


def graph():
    return layers.import_graph(ROOT / "fxwidgets")


def test_no_import_cycle_counting_imports_inside_functions():
    assert layers.cycles(graph()) == []


def test_no_import_runs_up_the_layers():
    assert layers.back_arrows(graph()) == []


def test_the_checker_sees_a_planted_cycle_and_back_arrow():
    g = graph()
    g["fxwidgets.compute.affinity"].add("fxwidgets.widgets.affinity_heatmap")
    assert ("fxwidgets.compute.affinity", "fxwidgets.widgets.affinity_heatmap") in layers.back_arrows(g)
    assert any("fxwidgets.compute.affinity" in c for c in layers.cycles(g))


def test_every_view_has_its_typescript_twin():
    # base.py and linking.py are what the views share (their twins are js/lib/view.ts and js/lib/link.ts); a private
    # module (a leading underscore) is a helper of a view, not a view
    views = {p.stem for p in (ROOT / "fxwidgets" / "widgets").glob("*.py") if not p.stem.startswith("_")} - {"base", "linking"}
    twins = {p.stem for p in (ROOT / "js").glob("*.ts")}
    assert views == twins, (views - twins, twins - views)
