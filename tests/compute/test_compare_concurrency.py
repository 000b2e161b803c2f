"""Two fx.compare runs on one model at the same time (issue 11): each captures only its own forward passes, so both
give exactly the blocking answers, and the model's train/eval flags come back as they were."""

from __future__ import annotations

import importlib

import threading

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.compare import Capture, EvalMode


def make_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Dropout(0.5),
        torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 8),
    )


def data(seed, n=512):
    return torch.randn(n, 16, generator=torch.Generator().manual_seed(seed))


def run_in_threads(jobs):
    """Start every job at once (a barrier), collect results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    out: list = [None] * len(jobs)

    def runner(i, fn):
        barrier.wait()
        try:
            out[i] = fn()
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            out[i] = exc

    threads = [threading.Thread(target=runner, args=(i, fn)) for i, fn in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return out


def test_two_concurrent_compares_on_one_model_give_the_blocking_answers():
    model = make_model()
    model.train()  # dropout on: a run that left eval mode early would change the other's numbers
    X1, X2 = data(1), data(2) * 3 + 1
    kw = {"batch_size": 32, "gram_samples": 0}
    want1 = fx.compare(model, data=X1, **kw).values.numpy()
    want2 = fx.compare(model, data=X2, seed=5, **kw).values.numpy()
    assert not np.allclose(want1, want2, atol=1e-3)  # different inputs, visibly different answers
    for _ in range(3):
        got = run_in_threads([lambda: fx.compare(model, data=X1, **kw), lambda: fx.compare(model, data=X2, seed=5, **kw),
                              lambda: fx.compare(model, data=X1, **kw)])
        for r in got:
            assert not isinstance(r, BaseException), repr(r)
        assert np.array_equal(got[0].values.numpy(), want1)
        assert np.array_equal(got[1].values.numpy(), want2)
        assert np.array_equal(got[2].values.numpy(), want1)
    assert all(m.training for m in model.modules())  # flags restored after the last run


def test_two_streamed_jobs_on_one_model_give_the_blocking_answers():
    model = make_model(1)
    X1, X2 = data(3), data(4)
    want1 = fx.compare(model, data=X1, batch_size=16).values.numpy()
    want2 = fx.compare(model, data=X2, batch_size=16).values.numpy()
    j1 = fx.compare(model, data=X1, batch_size=16, stream=True)
    j2 = fx.compare(model, data=X2, batch_size=16, stream=True)
    assert np.array_equal(j1.result().values.numpy(), want1)
    assert np.array_equal(j2.result().values.numpy(), want2)


def test_a_forward_pass_of_another_thread_is_not_captured():
    model = make_model()
    layers = ["0", "3"]
    cap = Capture(model, layers, "model_a")
    try:
        other = threading.Thread(target=lambda: model(torch.randn(3, 16)))
        other.start()
        other.join()
        assert cap.outputs == {}  # the other thread's pass went past our hooks
        with torch.no_grad():
            model(torch.randn(5, 16))
        feats = cap.take(5)
        assert [f.shape for f in feats] == [(5, 64), (5, 64)]
    finally:
        cap.remove()
    assert not model[0]._forward_hooks


def test_eval_mode_is_shared_and_restored_by_the_last_user():
    model = make_model()
    model.train()
    model[2].eval()  # a mixed state must come back exactly
    before = [m.training for m in model.modules()]
    outer = EvalMode(model)
    outer.__enter__()
    inner = EvalMode(model)
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first user leaves while the second still runs
    assert not any(m.training for m in model.modules())
    inner.__exit__(None, None, None)
    assert [m.training for m in model.modules()] == before


def test_compare_refuses_or_converts_a_dataframe_instead_of_iterating_its_column_names():
    pd = importlib.import_module("pandas")
    model = make_model()
    X = data(5, n=64).numpy()
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(16)])
    got = fx.compare(model, data=df, batch_size=16).values.numpy()
    want = fx.compare(model, data=X, batch_size=16).values.numpy()
    assert np.array_equal(got, want)
    with pytest.raises(TypeError, match="data"):
        fx.compare(model, data=pd.DataFrame({"a": ["x", "y", "z", "w"]}))
