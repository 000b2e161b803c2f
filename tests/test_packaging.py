"""The wheel a user installs carries the built front end (built files are never committed)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_wheel_contains_the_built_bundles(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("fxwidgets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    views = sorted(p.stem for p in (ROOT / "js").glob("*.ts"))
    assert "affinity_heatmap" in views
    for view in views:  # every view's bundle, each a real build
        bundle = f"fxwidgets/static/{view}.js"
        assert bundle in names, bundle
        assert zipfile.ZipFile(wheel).getinfo(bundle).file_size > 1000
    # the host of save_html pages, bundled on its own
    assert zipfile.ZipFile(wheel).getinfo("fxwidgets/static/standalone_host.js").file_size > 1000
    assert not any(n.startswith(("js/", "tests/", "node_modules/")) for n in names)
    assert "fxwidgets/compute/affinity.py" in names


def test_built_files_are_not_tracked_by_git():
    tracked = subprocess.run(["git", "ls-files", "fxwidgets/static"], cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked.strip() == ""
