"""The colormap tables shipped to the browser (js/lib/colormap_data.ts) equal matplotlib's.

matplotlib is the anchor: ``colormaps[name](np.arange(256))`` RGB, times 255, rounded. The TS file is parsed
as text here, so this checks the copy the bundle actually contains, not the generator.
"""

from __future__ import annotations

import importlib

import re
from pathlib import Path

import numpy as np
import pytest

matplotlib = importlib.import_module("matplotlib")
from matplotlib import colormaps  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA_TS = ROOT / "js" / "lib" / "colormap_data.ts"
COLORMAPS_TS = ROOT / "js" / "lib" / "colormaps.ts"
EXPECTED = {"viridis", "magma", "gray", "RdBu_r", "coolwarm"}


def parse_tables() -> dict[str, np.ndarray]:
    text = DATA_TS.read_text(encoding="utf-8")
    entries = re.findall(r'^\s*"([A-Za-z0-9_]+)":\s*"([0-9a-f]*)",?\s*$', text, flags=re.MULTILINE)
    tables = {}
    for name, hexstr in entries:
        assert name not in tables, f"{name} appears twice in {DATA_TS.name}"
        assert len(hexstr) == 256 * 6, f"{name}: {len(hexstr)} hex chars, expected {256 * 6}"
        tables[name] = np.frombuffer(bytes.fromhex(hexstr), dtype=np.uint8).reshape(256, 3)
    return tables


TABLES = parse_tables()


def test_file_lists_exactly_the_supported_colormaps():
    assert set(TABLES) == EXPECTED


def test_colormaps_ts_names_match_the_data():
    text = COLORMAPS_TS.read_text(encoding="utf-8")
    m = re.search(r"COLORMAP_NAMES\s*=\s*\[([^\]]*)\]", text)
    assert m, "COLORMAP_NAMES not found in colormaps.ts"
    names = set(re.findall(r'"([^"]+)"', m.group(1)))
    assert names == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_table_equals_matplotlib(name):
    cmap = colormaps[name]
    assert cmap.N == 256
    expected = np.rint(np.asarray(cmap(np.arange(256)), dtype=np.float64)[:, :3] * 255.0).astype(np.uint8)
    got = TABLES[name]
    bad = np.flatnonzero(np.any(got != expected, axis=1))
    assert bad.size == 0, f"{name}: {bad.size} entries differ, first at {bad[0]}: {got[bad[0]]} != {expected[bad[0]]}"


def test_tables_are_not_trivial():
    # Endpoints of a few maps, known from matplotlib's published data.
    assert tuple(TABLES["gray"][0]) == (0, 0, 0)
    assert tuple(TABLES["gray"][255]) == (255, 255, 255)
    assert tuple(TABLES["viridis"][0]) == (68, 1, 84)
    assert tuple(TABLES["viridis"][255]) == (253, 231, 37)
