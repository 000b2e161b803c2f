"""fx.compare: layer x layer minibatch CKA with forward hooks, streamed; and its LayerComparison view."""

import copy
import warnings

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.compare import CompareAccumulator, iter_compare, plan_compare
from tests.conftest import requires_cuda

warnings.filterwarnings("ignore", message=".*front-end bundle.*missing.*")


def mlp(seed=0, d_in=12):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d_in, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, 4))


def features(model, x, names):
    out, mods = {}, dict(model.named_modules())
    hs = [mods[n].register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o.detach().reshape(len(x), -1)))
          for n in names]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return [out[n] for n in names]


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(400, 12, generator=g)


def test_one_model_against_itself_is_symmetric_with_a_unit_diagonal(data):
    r = fx.compare(mlp(), data=data, batch_size=50)
    assert r.layers_a == r.layers_b == ["0", "1", "2", "3", "4"]
    v = r.values.numpy()
    np.testing.assert_allclose(np.diag(v), 1.0, atol=1e-12)
    np.testing.assert_allclose(v, v.T, atol=1e-12)
    assert ((v > 0) & (v <= 1 + 1e-9)).all()
    assert r.examples == 400 and r.params["batches"] == 8 and r.params["seed"] == 0
    assert (r.se.numpy()[~np.eye(5, dtype=bool)] > 0).all()


def test_one_batch_of_all_examples_equals_the_debiased_cka_of_the_hooked_features(data):
    model = mlp()
    r = fx.compare(model, data=data, batch_size=400, shuffle=False)
    feats = features(model, data, r.layers_a)
    for i, j in [(0, 2), (1, 4), (2, 3)]:
        expected = fx.similarity(feats[i].double(), feats[j].double(), unbiased=True).value
        assert r.values[i, j].item() == pytest.approx(expected, abs=2e-6)


def test_rbf_kernel_in_one_batch_equals_the_debiased_rbf_cka(data):
    model = mlp()
    r = fx.compare(model, data=data, kernel="rbf", threshold=0.8, batch_size=400, shuffle=False)
    feats = features(model, data, r.layers_a)
    expected = fx.similarity(feats[0].double(), feats[3].double(), kernel="rbf", threshold=0.8, unbiased=True).value
    assert r.values[0, 3].item() == pytest.approx(expected, abs=1e-5)
    assert r.params["kernel"] == "rbf" and r.params["threshold"] == 0.8


def test_a_float64_model_and_a_generator_of_batches(data):
    model = mlp().double()
    r64 = fx.compare(model, data=(data[i:i + 100] for i in range(0, 400, 100)), layers=["0", "2"])
    assert r64.params["n_examples"] is None and r64.examples == 400 and r64.gram_labels is None
    r = fx.compare(model, data=data, layers=["0", "2"], batch_size=100, shuffle=False)
    torch.testing.assert_close(r64.values, r.values, rtol=0, atol=1e-12)


def test_many_batches_agree_with_ckatorch_cka_batch_on_the_same_batches(data):
    import ckatorch  # a test dependency (the "test" extra)

    model = mlp()
    r = fx.compare(model, data=data, batch_size=40, shuffle=False)
    feats = features(model, data, r.layers_a)
    for i, j in [(0, 4), (1, 2)]:
        fi = feats[i].double().reshape(10, 40, -1)
        fj = feats[j].double().reshape(10, 40, -1)
        # ckatorch does not centre the features; HSIC1 is invariant to that, so centre per batch for float32 parity
        fi, fj = fi - fi.mean(1, keepdim=True), fj - fj.mean(1, keepdim=True)
        assert r.values[i, j].item() == pytest.approx(float(ckatorch.cka_batch(fi, fj)), abs=2e-6)


def test_the_minibatch_matrix_approaches_the_full_batch_one_as_batches_grow(data):
    model = mlp()
    full = fx.compare(model, data=data, batch_size=400, shuffle=False).values
    err = [float((fx.compare(model, data=data, batch_size=b).values - full).abs().max()) for b in (10, 100)]
    assert err[1] < err[0]


def test_two_networks_an_orthogonally_rotated_copy_has_cka_one_at_the_rotated_layer(data):
    a = mlp()
    b = copy.deepcopy(a)
    q, _ = torch.linalg.qr(torch.randn(32, 32, generator=torch.Generator().manual_seed(9)))
    with torch.no_grad():
        b[0].weight.copy_(q @ a[0].weight)
        b[0].bias.copy_(q @ a[0].bias)
    r = fx.compare(a, b, data, layers=["0", "2"], batch_size=50)
    assert r.layers_b == ["0", "2"] and r.params["same_model"] is False
    assert r.values[0, 0].item() == pytest.approx(1.0, abs=1e-5)  # the rotated layer: same representation
    assert r.values[1, 1].item() < 0.99  # after the ReLU the rotation matters


def test_a_dataloader_of_batches_with_labels_gives_the_tensor_result(data):
    y = torch.arange(400) % 3
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, y), batch_size=50, shuffle=False)
    model = mlp()
    r1 = fx.compare(model, data=loader, gram_samples=120)
    r2 = fx.compare(model, data=data, batch_size=50, shuffle=False, labels=y.numpy(), gram_samples=120)
    torch.testing.assert_close(r1.values, r2.values, rtol=0, atol=1e-12)
    assert r1.params["n_examples"] == 400 and r1.params["seed"] is None
    np.testing.assert_array_equal(r1.gram_labels, y.numpy()[:120])
    np.testing.assert_array_equal(r1.gram_index, np.arange(120))
    assert len(r1.grams_a) == 5 and r1.grams_a[0].shape == (120, 120)


def test_the_gram_matrices_are_the_centred_linear_grams_of_the_kept_examples(data):
    model = mlp()
    r = fx.compare(model, data=data, batch_size=64, gram_samples=100, seed=4)
    feats = features(model, data[torch.from_numpy(r.gram_index)], r.layers_a)
    f = feats[2] - feats[2].mean(0)
    torch.testing.assert_close(r.grams_a[2], f @ f.T, rtol=1e-4, atol=1e-4)
    assert r.grams_b is r.grams_a  # one model against itself: computed once


def test_the_stream_yields_valid_partial_matrices_and_ends_at_the_blocking_result(data):
    model = mlp()
    plan = plan_compare(model, None, data, batch_size=50)
    acc = CompareAccumulator(plan)
    seen = []
    for u in iter_compare(plan):
        acc.add(u)
        v = acc.values.numpy()
        assert np.isfinite(v).all() and (v <= 1 + 1e-9).all()
        np.testing.assert_allclose(np.diag(v), 1.0, atol=1e-12)
        seen.append((u.examples_seen, u.progress))
    assert seen[-1] == (400, 1.0) and [s for s, _ in seen] == list(range(50, 401, 50))
    blocking = fx.compare(model, data=data, batch_size=50)
    torch.testing.assert_close(acc.result().values, blocking.values, rtol=0, atol=0)
    job = fx.compare(model, data=data, batch_size=50, stream=True)
    torch.testing.assert_close(job.result(timeout=60).values, blocking.values, rtol=0, atol=0)
    assert job.progress == 1.0


def test_models_get_their_flags_back_and_no_hook_is_left(data):
    model = mlp()
    model.train()
    model[2].eval()
    fx.compare(model, data=data, batch_size=100)
    assert model.training and not model[2].training and model[4].training
    assert all(not m._forward_hooks for m in model.modules())


def test_dropout_is_off_while_comparing(data):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Dropout(0.5), torch.nn.Linear(32, 8)).train()
    r = fx.compare(model, data=data, layers=["0", "1"], batch_size=100)
    assert r.values[0, 1].item() == pytest.approx(1.0, abs=1e-9)  # eval-mode dropout is the identity
    assert model.training


def test_a_layer_constant_on_every_batch_gives_nan_not_an_error(data):
    model = mlp()
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(-1.0)  # ReLU(-1) = 0 everywhere: a dead layer
    r = fx.compare(model, mlp(seed=1), data, layers=["1"], layers_b=["0", "1"], batch_size=100)
    assert r.shape == (1, 2) and torch.isnan(r.values).all()
    healthy = fx.compare(mlp(seed=1), data=data, layers=["0", "1"], batch_size=100)
    assert not torch.isnan(healthy.values).any()


@pytest.mark.parametrize("kwargs, match", [
    ({"layers": ["0", "nope"]}, r"model_a has no layer named 'nope'; valid names are: '0', '1', '2', '3', '4'"),
    ({"layers": ["0"], "layers_b": ["x"]}, r"layers_b: model_a has no layer named 'x'"),
    ({"layers": []}, "layers is empty"),
    ({"layers": ["0", "0"]}, "names '0' more than once"),
    ({"batch_size": 3}, "batch_size must be at least 4"),
    ({"kernel": "poly"}, "kernel must be one of"),
    ({"labels": np.zeros(7)}, "labels has 7 entries but data has 400 examples"),
    ({"seed": 1.5}, "seed must be an integer"),
])
def test_bad_arguments_are_refused_before_any_batch_runs(data, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fx.compare(mlp(), data=data, **kwargs)


def test_bad_data_and_models_are_refused(data):
    with pytest.raises(TypeError, match="data is required"):
        fx.compare(mlp())
    bad = data.clone()
    bad[5, 3] = float("nan")
    with pytest.raises(ValueError, match=r"data has 1 non-finite value\(s\).*\(5, 3\)"):
        fx.compare(mlp(), data=bad)
    with pytest.raises(ValueError, match="model_a failed on the first examples of data"):
        fx.compare(mlp(), data=torch.randn(40, 7))  # wrong number of input features
    with pytest.raises(TypeError, match="model_a must be a torch.nn.Module"):
        fx.compare("resnet", data=data)
    with pytest.raises(ValueError, match="data has 3 examples"):
        fx.compare(mlp(), data=data[:3])
    with pytest.raises(ValueError, match="data has no batches"):
        fx.compare(mlp(), data=[])
    batches = [data[:50], torch.full((50, 12), float("inf"))]
    with pytest.raises(ValueError, match="data batch 1 has 600 non-finite"):
        fx.compare(mlp(), data=batches)


def _grams_by_rpc(view, args):
    """Ask the view for a cell's Gram matrices the way the browser does (a ``grams`` request), return the reply."""
    import threading

    from fxwidgets.runtime.codec import unpack

    got, done = [], threading.Event()

    def send(content, buffers=None):
        got.append(unpack(content, list(buffers or [])))
        done.set()

    view.send = send
    view._on_custom_msg(view, {"type": "request", "id": "g", "method": "grams", "args": args}, [])
    assert done.wait(30)
    return got[0]


def test_the_view_opens_the_two_gram_matrices_of_a_clicked_cell_sorted_by_label(data):
    y = (torch.arange(400) * 7) % 3
    r = fx.compare(mlp(), data=data, labels=y.numpy(), batch_size=50, gram_samples=90)
    view = r.show()
    assert view.sort_by == "label" and view.layers_a == ["0", "1", "2", "3", "4"] and view.has_labels
    assert view.vmin is None and view.vmax is None  # the colours span the values' own range
    np.testing.assert_allclose(view.values, r.values.numpy().astype(np.float32), atol=1e-7)
    assert view.pair == []
    view.pair = [1, 3]  # what a click in the browser sets; the view then asks for the two Gram matrices
    reply = _grams_by_rpc(view, {"row": 1, "col": 3, "sort_by": view.sort_by})
    assert reply["ok"], reply
    g = reply["result"]
    assert g["a"].shape == (90, 90) and g["layer_a"] == "1" and g["layer_b"] == "3"
    labels = [int(s) for s in g["labels"]]
    assert labels == sorted(labels)  # sorted by label
    order = np.lexsort((r.gram_index, r.gram_labels))
    np.testing.assert_array_equal(g["index"], np.asarray(r.gram_index)[order])
    expected = r.grams_a[1][torch.from_numpy(order)][:, torch.from_numpy(order)]
    np.testing.assert_allclose(g["a"], expected.numpy(), rtol=1e-6, atol=1e-6)
    assert g["lim_a"] > 0 and g["lim_b"] > 0
    in_data_order = view.grams(1, 3, "data order")
    assert list(in_data_order["index"]) == sorted(in_data_order["index"])
    with pytest.raises(Exception, match="sort_by must be"):
        view.sort_by = "colour"
    with pytest.raises(Exception, match="pair must be"):
        view.pair = [7, 0]
    bad = _grams_by_rpc(view, {"row": 9, "col": 0, "sort_by": "label"})
    assert bad["ok"] is False and "row must be an integer in 0..4" in bad["error"]


def test_the_live_view_fills_in_and_ends_with_the_result(data):
    job = fx.compare(mlp(), data=data, batch_size=50, stream=True)
    view = job.show()
    result = job.result(timeout=60)
    job.wait(5)
    np.testing.assert_allclose(view.values, result.values.numpy().astype(np.float32), atol=1e-7)
    se = np.frombuffer(view.cka_se, dtype="<f4").reshape(view.values.shape)
    np.testing.assert_allclose(se, result.se.numpy().astype(np.float32), atol=1e-7, equal_nan=True)
    assert view.examples == 400 and view.n_examples == 400
    assert view.status == "done" and view.result is not None
    view.select(0, 4)
    assert view.pair == [0, 4] and view.grams(0, 4)["a"].shape[0] > 0
    with pytest.raises(ValueError, match="outside the 5 x 5 matrix"):
        view.select(0, 5)


def test_gram_colour_map_is_checked_when_the_view_is_built(data):
    r = fx.compare(mlp(), data=data, batch_size=50, gram_samples=20)
    view = r.show(gram_cmap="jet", cmap="plasma")  # any matplotlib map: sent as a table
    assert view.gram_cmap == "jet" and view.gram_cmap_lut["name"] == "jet"
    assert view.cmap == "plasma" and view.cmap_lut["name"] == "plasma"
    with pytest.raises(ValueError, match="gram_cmap: unknown colour map 'jett'"):
        r.show(gram_cmap="jett")


@requires_cuda
def test_cuda_agrees_with_cpu(data):
    model = mlp()
    cpu = fx.compare(model, data=data, batch_size=50)
    gpu = fx.compare(copy.deepcopy(model).cuda(), data=data, batch_size=50)
    assert gpu.params["device"].startswith("cuda")
    torch.testing.assert_close(gpu.values, cpu.values, rtol=0, atol=1e-4)
