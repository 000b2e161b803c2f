"""row_top_k (the two-pass top-k of the exact k-NN search) against torch.topk on whole rows."""

import pytest
import torch

from fxwidgets.compute.knn import TOP_K_GROUP, row_top_k


# every (m, k) with k <= m, including k == m (a row that is all candidates)
SHAPES = [(5, 1), (5, 5)] + [(m, k) for m in (10 * TOP_K_GROUP, 1000, 1003, 20000 + 7) for k in (1, 10)]


@pytest.mark.parametrize("m,k", SHAPES)
@pytest.mark.parametrize("largest", [True, False])
def test_same_values_and_columns_as_topk_on_distinct_entries(m, largest, k):
    g = torch.Generator().manual_seed(m + k)
    tile = torch.randn(37, m, generator=g)
    v, i = row_top_k(tile, k, largest=largest)
    v_ref, i_ref = torch.topk(tile, k, dim=1, largest=largest, sorted=True)
    assert torch.equal(v, v_ref)
    assert torch.equal(i, i_ref)  # distinct values: the columns are determined
    assert torch.equal(tile.gather(1, i), v)


def test_best_entries_all_in_one_group_and_ties_keep_exact_values():
    m, k = 4000, 10
    w = m // TOP_K_GROUP
    tile = torch.zeros(3, m)
    tile[0, torch.arange(k) * w + 5] = torch.arange(1.0, k + 1)  # the k best share group 5
    tile[1] = torch.randint(0, 3, (m,), generator=torch.Generator().manual_seed(1)).float()  # heavy ties
    tile[2, -3:] = 9.0  # the best in the leftover columns past w * g
    v, i = row_top_k(tile, k)
    v_ref, _ = torch.topk(tile, k, dim=1)
    assert torch.equal(v, v_ref)
    assert torch.equal(tile.gather(1, i), v)
    assert set(i[0].tolist()) == set((torch.arange(k) * w + 5).tolist())
    assert set(i[2, :3].tolist()) == {m - 3, m - 2, m - 1}
    assert all(len(set(r)) == k for r in i.tolist())  # no column twice
