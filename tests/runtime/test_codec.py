import numpy as np
import pytest
import torch

from fxwidgets.runtime.codec import decode_array, encode_array, nbytes, pack, to_wire, unpack
from tests.conftest import requires_cuda


@pytest.mark.parametrize("dtype", ["float32", "float16", "uint8", "int32"])
def test_round_trip_every_wire_dtype(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((7, 5)) * 50).astype(dtype)
    header, buf = encode_array(a)
    assert header == {"dtype": dtype, "shape": [7, 5]}
    assert buf.nbytes == a.nbytes
    np.testing.assert_array_equal(decode_array(header, buf), a)


def test_float64_becomes_float32_and_int64_becomes_int32():
    assert to_wire(np.arange(4, dtype=np.float64)).dtype == np.float32
    assert to_wire(np.arange(4, dtype=np.int64)).dtype == np.int32
    assert to_wire(np.array([True, False])).dtype == np.uint8


def test_int64_out_of_int32_range_is_an_error_not_a_wrap():
    with pytest.raises(ValueError, match="does not fit in int32"):
        to_wire(np.array([2**40]))


def test_non_contiguous_and_big_endian_inputs():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    assert not a.flags.c_contiguous
    header, buf = encode_array(a)
    np.testing.assert_array_equal(decode_array(header, buf), a)
    big = np.arange(5, dtype=">f4")
    header, buf = encode_array(big)
    np.testing.assert_array_equal(decode_array(header, buf), np.arange(5, dtype=np.float32))


def test_torch_tensors_including_views_grad_and_bfloat16():
    t = torch.randn(6, 4, requires_grad=True)
    header, buf = encode_array(t.T)  # a transposed view that needs grad
    np.testing.assert_array_equal(decode_array(header, buf), t.detach().T.numpy())
    header, _ = encode_array(torch.ones(3, dtype=torch.bfloat16))
    assert header["dtype"] == "float32"


@requires_cuda
def test_cuda_tensor_is_brought_to_the_cpu():
    t = torch.randn(3, 3, device="cuda")
    header, buf = encode_array(t)
    np.testing.assert_array_equal(decode_array(header, buf), t.cpu().numpy())


def test_pack_and_unpack_nested_structures():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = torch.arange(4, dtype=torch.int32)
    content, buffers = pack({"type": "tile", "r0": np.int64(3), "items": [a, {"b": b}], "x": 1.5})
    assert content["r0"] == 3 and isinstance(content["r0"], int)
    assert content["items"][0] == {"dtype": "float32", "shape": [2, 3], "$array": 0}
    assert len(buffers) == 2 and nbytes(buffers) == a.nbytes + 16
    out = unpack(content, buffers)
    np.testing.assert_array_equal(out["items"][0], a)
    np.testing.assert_array_equal(out["items"][1]["b"], b.numpy())
    assert out["x"] == 1.5


@pytest.mark.parametrize(
    "header, nbuf, message",
    [
        ({"dtype": "float64", "shape": [1]}, 8, "dtype"),
        ({"dtype": "float32", "shape": [-1]}, 4, "shape"),
        ({"dtype": "float32", "shape": [3]}, 8, "need 12"),
    ],
)
def test_decode_rejects_malformed_headers(header, nbuf, message):
    with pytest.raises(ValueError, match=message):
        decode_array(header, bytes(nbuf))


def test_unpack_rejects_a_placeholder_without_its_buffer():
    with pytest.raises(ValueError, match="buffer 2"):
        unpack({"a": {"$array": 2, "dtype": "uint8", "shape": [1]}}, [b"x"])


def test_unknown_dtype_cannot_be_sent():
    with pytest.raises(TypeError, match="complex"):
        to_wire(np.ones(2, dtype=np.complex64))
