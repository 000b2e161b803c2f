"""Arrays to binary message buffers and back (see docs/protocol.md, "Arrays: the codec").

A message's JSON content keeps a small placeholder where an array was; the bytes travel as one of the
message's binary buffers. Nothing here ever turns an array into a JSON list: a 1000x2000 matrix as JSON
costs seconds in ``json_clean`` and megabytes of text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # torch is a hard dependency of the package, but the codec itself must not need it
    import torch
except ImportError:  # pragma: no cover
    torch = None

#: Dtypes that exist on the wire; the browser has typed arrays (or a decoder) for each.
WIRE_DTYPES = ("float32", "float16", "uint8", "int32")

_PLACEHOLDER = "$array"


def _to_numpy(x: Any) -> np.ndarray:
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:  # numpy has no bfloat16
            x = x.float()
        return x.cpu().numpy()
    return np.asarray(x)


def to_wire(x: Any) -> np.ndarray:
    """Return ``x`` as a C-contiguous little-endian array of a wire dtype.

    float64 -> float32 (the browser draws with float32), wide or small integers -> int32, bool -> uint8.
    Integers that do not fit in int32 raise instead of wrapping silently.
    """
    a = _to_numpy(x)
    kind = a.dtype.kind
    if a.dtype.name in WIRE_DTYPES:
        pass
    elif kind == "f":
        a = a.astype(np.float32)
    elif kind == "b":
        a = a.astype(np.uint8)
    elif kind in "iu":
        if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
            raise ValueError(
                f"integer array with values in [{a.min()}, {a.max()}] does not fit in int32, "
                "the widest integer the browser receives"
            )
        a = a.astype(np.int32)
    else:
        raise TypeError(f"cannot send an array of dtype {a.dtype} to the browser; use one of {WIRE_DTYPES}")
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a)


def encode_array(x: Any) -> tuple[dict, memoryview]:
    """One array -> (header with dtype and shape, buffer)."""
    a = to_wire(x)
    return {"dtype": a.dtype.name, "shape": list(a.shape)}, memoryview(a).cast("B")


def decode_array(header: dict, buffer: Any) -> np.ndarray:
    """(header, buffer) -> a numpy array (a copy, so it outlives the message)."""
    if not isinstance(header, dict):
        raise ValueError(f"array header must be an object, got {type(header).__name__}")
    dtype = header.get("dtype")
    shape = header.get("shape")
    if dtype not in WIRE_DTYPES:
        raise ValueError(f"array dtype {dtype!r} is not one of {WIRE_DTYPES}")
    if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError(f"array shape must be a list of non-negative ints, got {shape!r}")
    raw = memoryview(buffer).cast("B")
    itemsize = np.dtype(dtype).itemsize
    expected = int(np.prod(shape, dtype=np.int64)) * itemsize
    if raw.nbytes != expected:
        raise ValueError(f"array buffer has {raw.nbytes} bytes; dtype {dtype} and shape {list(shape)} need {expected}")
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (torch is not None and isinstance(x, torch.Tensor))


def pack(obj: Any) -> tuple[Any, list[memoryview]]:
    """Replace every array inside ``obj`` (nested dicts/lists/tuples) by a placeholder.

    Returns ``(content, buffers)`` ready for ``widget.send(content, buffers=buffers)``.
    """
    buffers: list[memoryview] = []

    def walk(x: Any) -> Any:
        if _is_array(x):
            header, buf = encode_array(x)
            header[_PLACEHOLDER] = len(buffers)
            buffers.append(buf)
            return header
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, (np.floating, np.integer, np.bool_)):
            return x.item()
        return x

    return walk(obj), buffers


def unpack(content: Any, buffers: list | None) -> Any:
    """The inverse of :func:`pack`: placeholders become numpy arrays."""
    buffers = list(buffers or [])

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            if _PLACEHOLDER in x:
                index = x[_PLACEHOLDER]
                if not isinstance(index, int) or not 0 <= index < len(buffers):
                    raise ValueError(f"array placeholder points at buffer {index!r}; the message has {len(buffers)}")
                return decode_array(x, buffers[index])
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(content)


def nbytes(buffers: list) -> int:
    """Total payload of a message's buffers."""
    return sum(memoryview(b).nbytes for b in buffers)
