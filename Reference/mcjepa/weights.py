"""safetensors files without the `safetensors` package (same format, so either side reads the other's files).

Layout: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
"__metadata__": {str: str}}, then the raw little-endian tensor bytes; offsets are relative to the end of the
header. Tensors are written in sorted name order, each contiguous, C order.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Dict, Optional, Tuple

import numpy as np
import torch

_DTYPES = {torch.float32: ("F32", np.float32), torch.float64: ("F64", np.float64), torch.int64: ("I64", np.int64),
           torch.int32: ("I32", np.int32), torch.uint8: ("U8", np.uint8), torch.float16: ("F16", np.float16)}
_BY_NAME = {name: (dtype, np_dtype) for dtype, (name, np_dtype) in _DTYPES.items()}
MAX_HEADER_BYTES = 100 * 1024 * 1024


def save_file(tensors: Dict[str, torch.Tensor], path: str, metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes atomically: a temporary file in the same folder, renamed over `path` when complete."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        data = t.numpy().astype(_DTYPES[t.dtype][1], copy=False).tobytes(order="C")
        header[name] = {"dtype": _DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((-len(encoded)) % 8)  # align the data section to 8 bytes, as the reference writer does
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(encoded)))
            f.write(encoded)
            for data in blobs:
                f.write(data)
        # mkstemp creates 0600 files; give the result the permissions an ordinary open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_file(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """-> (tensors, metadata). Raises ValueError naming the file and the cause for malformed files."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} goes beyond the file ({len(raw)} bytes)")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in _BY_NAME:
            raise ValueError(f"{path}: {name} has unsupported dtype {info['dtype']}")
        dtype, np_dtype = _BY_NAME[info["dtype"]]
        begin, end = info["data_offsets"]
        shape = tuple(int(s) for s in info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= len(data)) or end - begin != count * np.dtype(np_dtype).itemsize:
            raise ValueError(f"{path}: {name} has offsets {begin}..{end} inconsistent with shape {list(shape)}")
        arr = np.frombuffer(data[begin:end], dtype=np_dtype).reshape(shape).copy()
        tensors[name] = torch.from_numpy(arr)
    return tensors, metadata
