"""Fixtures for the compute tests."""

import pytest
import torch

from tests.compute.evaluation_helpers import small_cnn


@pytest.fixture
def cnn():
    return small_cnn()


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    t = torch.arange(6) % 5
    return x, t
