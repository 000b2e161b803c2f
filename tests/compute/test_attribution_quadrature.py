"""Integrated Gradients' quadrature: Gauss-Legendre nodes by Newton's method above 100 nodes (NumPy's eigenvalue
solution is O(n^3)), Riemann nodes computed per chunk — both against the closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fxwidgets.compute.attribution import quadrature
from fxwidgets.compute.attribution.gradients import IG_RULES, gauss_legendre, nodes


@pytest.mark.parametrize("n", [101, 257])
def test_newton_gauss_legendre_nodes_match_numpy(n):
    x, w = gauss_legendre(n)
    xn, wn = np.polynomial.legendre.leggauss(n)
    np.testing.assert_allclose(x, xn, rtol=0, atol=1e-14)
    np.testing.assert_allclose(w, wn, rtol=0, atol=1e-13)  # NumPy's end weights are the less accurate ones


@pytest.mark.parametrize("n", [150, 1001])
def test_gauss_legendre_is_exact_for_polynomials_of_degree_2n_minus_1(n):
    x, w = gauss_legendre(n)
    for k in (0, 2, 10, 2 * n - 2):  # int_{-1}^{1} x^k = 2 / (k + 1) for even k
        assert abs((w * x**k).sum() - 2 / (k + 1)) < 1e-13
    assert abs((w * x ** (2 * n - 1)).sum()) < 1e-13 and np.all(np.diff(x) > 0)


@pytest.mark.parametrize("rule", [r for r in IG_RULES if r != "gausslegendre"])
def test_riemann_nodes_per_chunk_equal_the_whole_rule(rule):
    n = 37
    a, w = quadrature(rule, n)
    k = torch.tensor([0, 5, 36, 17])
    ak, wk = nodes(rule, n, k)
    np.testing.assert_allclose(ak.numpy(), a[k.numpy()], rtol=0, atol=0)
    np.testing.assert_allclose(wk.numpy(), w[k.numpy()], rtol=0, atol=0)
    assert abs(w.sum() - 1) < 1e-14
