"""The plain-data encoding the judge and the probe speak: JSON plus raw array bytes.

Nothing is ever pickled. A value crosses as JSON (``None``, bools, ints, floats, strings,
lists) or as one of a few tagged forms, a dict with one ``$`` key:

- ``{"$t": [dtype, shape, blob, flags]}``  a torch tensor: its raw bytes in ``blob``;
- ``{"$a": [dtype, shape, blob]}``         a numpy array;
- ``{"$f": "nan"}``                        a float JSON cannot hold (nan, inf, -inf);
- ``{"$tuple": [...]}``, ``{"$set": [...]}``; a dict with string keys is a JSON object,
  any other dict ``{"$dict": [[key, value], ...]}``;
- ``{"$size": [...]}``, ``{"$dtype": "float32"}``, ``{"$device": "cpu"}``;
- ``{"$h": id, ...}``   an object that stays on the probe's side (a module, a class): a
  handle the judge can ask about (``client.Remote``), with a description;
- ``{"$ref": id}``      that handle, sent back by the judge;
- ``{"$make": name, "spec": ...}`` an object the judge asks the probe to build from plain
  parts (``fixtures.py``: torch layers, never the course's code).

The decoder checks every tag, dtype, shape and size against what it allows, so a value a
sandbox sends can only ever decode into plain Python values, fresh tensors and arrays, and
handles. Containers nest at most :data:`MAX_DEPTH` deep; iterators are read to a list of at
most :data:`MAX_ITEMS` items.

A message on a pipe is a *frame*: ``b"CNNP"``, the JSON's length and the number of blobs
(4 bytes each), the JSON, then each blob as an 8-byte length and its bytes.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_DEPTH = 32
MAX_ITEMS = 100_000  # items read from one iterator or container
MAX_STRING = 2_000_000  # characters of one string
MAX_FRAME = 1 << 30  # bytes of one frame
MAGIC = b"CNNP"

# dtype name -> numpy dtype of its raw bytes (the torch dtype of the same name is looked up
# when needed: torch is imported only once a tensor crosses, so a notebook that never
# imports torch runs without paying for it)
RAW_DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"), "float64": np.dtype("<f8"), "float16": np.dtype("<f2"),
    "bfloat16": np.dtype("<i2"),  # numpy has none: its 16 bits as int16
    "int64": np.dtype("<i8"), "int32": np.dtype("<i4"), "int16": np.dtype("<i2"),
    "int8": np.dtype("i1"), "uint8": np.dtype("u1"), "bool": np.dtype("?"),
}


def _torch() -> Any:
    import torch

    return torch


def torch_dtype(name: str) -> Any:
    return getattr(_torch(), name)


def _torch_name(dtype: Any) -> str | None:
    return next((name for name in RAW_DTYPES if torch_dtype(name) == dtype), None)


NUMPY_DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                "bool")
DEVICES = ("cpu", "meta", "cuda", "mps")


class WireError(ValueError):
    """A message that does not follow this format (corrupt, too large, a forbidden tag)."""


@dataclass(frozen=True)
class Make:
    """An object the judge asks the probe to build from plain parts (``fixtures.py``)."""

    name: str
    spec: Any


@dataclass
class Message:
    """A decoded-or-to-be-encoded JSON body with its blobs."""

    body: Any
    blobs: list[bytes] = field(default_factory=list)


# --------------------------------------------------------------------------- encoding
class Encoder:
    """Turns values into JSON-able trees and blobs.

    ``unknown(value)`` is asked for anything not plain (the probe registers a handle and
    returns its description; the judge refuses). ``special(value)`` may encode a value
    first (the judge's handles become ``$ref``), returning None to decline.
    """

    def __init__(self, unknown: Callable[[Any], dict],
                 special: Callable[[Any], dict | None] | None = None) -> None:
        self.unknown = unknown
        self.special = special
        self.blobs: list[bytes] = []

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
        if self.special is not None:
            tagged = self.special(value)
            if tagged is not None:
                return tagged
        if isinstance(value, Make):
            return {"$make": value.name, "spec": self.encode(value.spec, depth + 1)}
        if value is None or type(value) is bool:  # bool cannot be subclassed
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, int):
            return int.__int__(value)  # the value itself, whatever a subclass claims
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            number = float.__float__(float(value)) if isinstance(value, np.floating) \
                else float.__float__(value)
            return number if math.isfinite(number) else {"$f": repr(number)}
        if isinstance(value, str):
            return str.__str__(value)[:MAX_STRING]
        torch = sys.modules.get("torch")  # no torch loaded: no value can be a tensor
        if torch is not None:
            if isinstance(value, torch.Tensor):
                return self._tensor(value)
            if isinstance(value, torch.Size):
                return {"$size": [int(v) for v in value]}
            if isinstance(value, torch.dtype):
                return {"$dtype": _torch_name(value) or str(value)}
            if isinstance(value, torch.device):
                return {"$device": str(value)}
        if isinstance(value, np.ndarray):
            return self._array(value)
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in _items(tuple.__iter__(value))]}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in _items(list.__iter__(value))]
        if isinstance(value, set | frozenset):
            return {"$set": [self.encode(v, depth + 1) for v in _items(iter(value))]}
        if isinstance(value, dict):
            pairs = list(_items(iter(dict.items(value))))
            if all(type(k) is str and not k.startswith("$") for k, _ in pairs):
                return {k: self.encode(v, depth + 1) for k, v in pairs}
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                              for k, v in pairs]}
        if isinstance(value, Iterator | range | type({}.keys()) | type({}.values())
                      | type({}.items())):
            return [self.encode(v, depth + 1) for v in _items(iter(value))]
        return self.unknown(value)

    def _blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def _tensor(self, tensor: Any) -> dict:
        torch = _torch()
        # read below any __torch_function__ / __torch_dispatch__ (a subclass's or a mode's):
        # the tensor's own bytes and shape, not what its overrides claim
        with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch():
            return self._plain_tensor(tensor)

    def _plain_tensor(self, tensor: Any) -> dict:
        torch = _torch()
        plain = torch.Tensor.detach(tensor)
        if plain.device.type != "cpu":
            plain = plain.cpu()
        name = _torch_name(plain.dtype)
        if name is None:  # complex or exotic: its values as float64, its dtype named
            name, plain = str(plain.dtype).removeprefix("torch."), plain.double()
            data = plain.contiguous().numpy().tobytes()
            return {"$t": ["float64", list(plain.shape), self._blob(data), {"dtype": name}]}
        if name == "bfloat16":
            plain = plain.view(torch.int16)
        data = plain.contiguous().numpy().tobytes() if plain.numel() else b""
        flags = {}
        if tensor.requires_grad:
            flags["grad"] = True
        if isinstance(tensor, torch.nn.Parameter):
            flags["param"] = True
        return {"$t": [name, [int(s) for s in plain.shape], self._blob(data), flags]}

    def _array(self, array: np.ndarray) -> Any:
        name = array.dtype.name
        if name not in NUMPY_DTYPES:
            if array.dtype.kind in "iuf":
                array, name = array.astype(np.float64), "float64"
            else:
                return self.unknown(array)
        data = np.ascontiguousarray(array).astype(RAW_DTYPES[name], copy=False).tobytes()
        return {"$a": [name, [int(s) for s in array.shape], self._blob(data)]}


def _items(iterator: Iterator) -> Iterator:
    """At most MAX_ITEMS items of an iterator (an endless generator stops there)."""
    for count, item in enumerate(iterator):
        if count >= MAX_ITEMS:
            raise WireError(f"more than {MAX_ITEMS} items in one value")
        yield item


def encode(value: Any, unknown: Callable[[Any], dict] | None = None,
           special: Callable[[Any], dict | None] | None = None) -> Message:
    """``value`` as a message; by default anything not plain is refused."""
    encoder = Encoder(unknown or _refuse, special)
    body = encoder.encode(value)
    return Message(body, encoder.blobs)


def _refuse(value: Any) -> dict:
    raise WireError(f"cannot send a {type(value).__name__} as plain data")


# --------------------------------------------------------------------------- decoding
class Decoder:
    """Turns a message back into values, checking everything.

    ``handle(info)`` makes the judge's object for a ``$h``; ``ref(id)`` and ``make(name,
    spec)`` give the probe's objects for ``$ref`` and ``$make``. A tag without its hook is
    refused.
    """

    def __init__(self, blobs: list[bytes], *,
                 handle: Callable[[dict], Any] | None = None,
                 ref: Callable[[int], Any] | None = None,
                 make: Callable[[str, Any], Any] | None = None) -> None:
        self.blobs = blobs
        self.handle, self.ref, self.make = handle, ref, make

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, str):
            if len(node) > MAX_STRING:
                raise WireError("a string too long")
            return node
        if isinstance(node, list):
            _count(node)
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            raise WireError(f"unexpected {type(node).__name__} in a message")
        tags = [key for key in node if key.startswith("$")]
        if not tags:  # a plain dict with string keys
            _count(list(node))
            return {key: self.decode(value, depth + 1) for key, value in node.items()}
        if len(tags) != 1:
            raise WireError("more than one tag in one value")
        tag = tags[0]
        body = node[tag]
        if tag == "$t":
            return self._tensor(body)
        if tag == "$a":
            return self._array(body)
        if tag == "$f":
            if body not in ("nan", "inf", "-inf"):
                raise WireError(f"bad float {body!r}")
            return float(body)
        if tag in ("$tuple", "$set"):
            _count(body)
            items = [self.decode(v, depth + 1) for v in body]
            return tuple(items) if tag == "$tuple" else set(items)
        if tag == "$dict":
            _count(body)
            result = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("bad dict entry")
                key = self.decode(pair[0], depth + 1)
                try:
                    result[key] = self.decode(pair[1], depth + 1)
                except TypeError as error:  # an unhashable key
                    raise WireError(f"bad dict key: {error}") from None
            return result
        if tag == "$size":
            _count(body)
            return _torch().Size([_int(v) for v in body])
        if tag == "$dtype":
            if body in RAW_DTYPES:
                return torch_dtype(body)
            return str(body)[:40]  # an exotic dtype: its name
        if tag == "$device":
            if not isinstance(body, str) or body.split(":")[0] not in DEVICES:
                raise WireError(f"bad device {body!r}")
            return _torch().device(body)
        if tag == "$h" and self.handle is not None:
            return self.handle(node)
        if tag == "$ref" and self.ref is not None:
            return self.ref(_int(body))
        if tag == "$make" and self.make is not None:
            if not isinstance(body, str):
                raise WireError("bad $make")
            return self.make(body, self.decode(node.get("spec"), depth + 1))
        raise WireError(f"unexpected tag {str(tag)[:20]!r}")

    def _blob(self, index: Any) -> bytes:
        index = _int(index)
        if not 0 <= index < len(self.blobs):
            raise WireError("a tensor's bytes are missing")
        return self.blobs[index]

    def _raw(self, name: Any, shape: Any, blob: Any, allowed: Any) -> np.ndarray:
        if name not in allowed:
            raise WireError(f"dtype {str(name)[:20]!r} not allowed")
        if not isinstance(shape, list) or len(shape) > 16:
            raise WireError("bad shape")
        dims = [_int(s) for s in shape]
        if any(d < 0 for d in dims):
            raise WireError("negative dimension")
        np_dtype = RAW_DTYPES[name]
        data = self._blob(blob)
        if len(data) != math.prod(dims) * np_dtype.itemsize:
            raise WireError("a tensor's bytes do not match its shape")
        return np.frombuffer(data, dtype=np_dtype).reshape(dims).copy()

    def _tensor(self, body: Any) -> Any:
        torch = _torch()
        if not isinstance(body, list) or len(body) != 4 or not isinstance(body[3], dict):
            raise WireError("bad tensor")
        name, shape, blob, flags = body
        array = self._raw(name, shape, blob, RAW_DTYPES)
        tensor = torch.from_numpy(array)
        if name == "bfloat16":
            tensor = tensor.view(torch.bfloat16)
        if flags.get("param") is True and tensor.is_floating_point():
            return torch.nn.Parameter(tensor, requires_grad=bool(flags.get("grad")))
        if flags.get("grad") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor

    def _array(self, body: Any) -> np.ndarray:
        if not isinstance(body, list) or len(body) != 3:
            raise WireError("bad array")
        return self._raw(body[0], body[1], body[2], NUMPY_DTYPES)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"expected an integer, got {type(value).__name__}")
    return value


def _count(items: Any) -> None:
    if not isinstance(items, list):
        raise WireError("expected a list")
    if len(items) > MAX_ITEMS:
        raise WireError(f"more than {MAX_ITEMS} items in one value")


def decode(message: Message, **hooks: Any) -> Any:
    return Decoder(message.blobs, **hooks).decode(message.body)


# --------------------------------------------------------------------------- frames
_HEAD = struct.Struct("<4sII")
_BLOB = struct.Struct("<Q")


def to_bytes(message: Message) -> bytes:
    text = json.dumps(message.body, separators=(",", ":"), allow_nan=False).encode()
    parts = [_HEAD.pack(MAGIC, len(text), len(message.blobs)), text]
    for blob in message.blobs:
        parts += [_BLOB.pack(len(blob)), blob]
    return b"".join(parts)


def write_frame(fd: int, message: Message) -> None:
    data = memoryview(to_bytes(message))
    while data:
        data = data[os.write(fd, data):]


class FrameReader:
    """Reads frames from a file descriptor; ``read_exactly`` may be given a deadline-aware
    reader (the judge's side waits with a time limit)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read

    def _exactly(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self._read(min(left, 1 << 20))
            if not chunk:
                raise EOFError("the other side closed the channel")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def read(self) -> Message:
        magic, text_size, n_blobs = _HEAD.unpack(self._exactly(_HEAD.size))
        if magic != MAGIC:
            raise WireError("not a frame (the channel is corrupt)")
        if text_size > MAX_FRAME or n_blobs > MAX_ITEMS:
            raise WireError("a frame too large")
        try:
            body = json.loads(self._exactly(text_size))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise WireError(f"a frame that is not JSON ({error})") from None
        blobs, total = [], text_size
        for _ in range(n_blobs):
            (size,) = _BLOB.unpack(self._exactly(_BLOB.size))
            total += size
            if total > MAX_FRAME:
                raise WireError("a frame too large")
            blobs.append(self._exactly(size))
        return Message(body, blobs)


def fd_reader(fd: int) -> FrameReader:
    return FrameReader(lambda size: os.read(fd, size))


def plain_mapping(value: Any) -> Mapping:
    """``value`` if it is a dict (decoded messages' bodies), else a WireError."""
    if not isinstance(value, dict):
        raise WireError("expected a JSON object")
    return value
