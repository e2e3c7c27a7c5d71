"""The plain-data encoding (``cnncourse.probe.wire``): every tag survives a trip through a
frame, lying subclasses arrive as the plain values they hold, and the decoder and the frame
reader refuse whatever the format does not allow."""

from __future__ import annotations

import io
import json
import math
import os
import struct

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from cnncourse.probe import wire
from cnncourse.probe.wire import FrameReader, Make, Message, WireError


def through_frame(message: Message) -> Message:
    data = io.BytesIO(wire.to_bytes(message))
    return FrameReader(data.read).read()


def roundtrip(value, **hooks):
    return wire.decode(through_frame(wire.encode(value)), **hooks)


def same_tensor(got, expected) -> bool:
    return (type(got) is type(expected) and got.dtype == expected.dtype
            and got.shape == expected.shape and torch.equal(got, expected))


# --------------------------------------------------------------------------- round trips
# the tensor dtypes the format allows (the design: raw float/int data, never pickles)
TENSOR_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                 "uint8", "bool")


@pytest.mark.parametrize("name", TENSOR_DTYPES)
def test_tensors_of_every_allowed_dtype_round_trip(name):
    dtype = getattr(torch, name)
    if dtype == torch.bool:
        tensor = torch.tensor([[True, False, True], [False, False, True]])
    elif dtype.is_floating_point:
        tensor = torch.tensor([[1.5, -2.25, 3.0], [0.0, 1e3, -7.5]], dtype=dtype)
    else:
        tensor = torch.tensor([[1, 2, 3], [4, 5, 100]], dtype=dtype)
    back = roundtrip(tensor)
    assert same_tensor(back, tensor)
    assert same_tensor(roundtrip(tensor.t()), tensor.t())  # not contiguous: its values
    assert same_tensor(roundtrip(tensor[0, 0].clone()), tensor[0, 0])  # 0-d
    empty = tensor[:0]
    back = roundtrip(empty)
    assert back.shape == (0, 3) and back.dtype == dtype


def test_bfloat16_keeps_its_bits():
    tensor = torch.tensor([1.0, -0.0078125, 3.140625, float("inf")], dtype=torch.bfloat16)
    back = roundtrip(tensor)
    assert back.dtype == torch.bfloat16
    assert torch.equal(back.view(torch.int16), tensor.view(torch.int16))


def test_nan_and_inf_in_tensors_and_floats():
    back = roundtrip([float("nan"), float("inf"), -math.inf, torch.tensor([math.nan, math.inf]),
                      np.float64("nan")])
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf
    assert math.isnan(back[3][0]) and back[3][1] == math.inf
    assert math.isnan(back[4])
    assert wire.encode(float("nan")).body == {"$f": "nan"}
    json.dumps(wire.encode([math.inf]).body, allow_nan=False)  # plain JSON


def test_parameters_and_requires_grad_cross():
    param = torch.nn.Parameter(torch.randn(2, 3))
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    leaf = torch.randn(4, requires_grad=True)
    back_param, back_frozen, back_leaf, back_plain = roundtrip(
        [param, frozen, leaf, torch.ones(2)])
    assert isinstance(back_param, torch.nn.Parameter) and back_param.requires_grad
    assert torch.equal(back_param.detach(), param.detach())
    assert isinstance(back_frozen, torch.nn.Parameter) and not back_frozen.requires_grad
    assert not isinstance(back_leaf, torch.nn.Parameter) and back_leaf.requires_grad
    assert not back_plain.requires_grad
    out = (leaf * 2).sum()  # a result in a graph crosses as its value
    assert roundtrip(out).requires_grad is True and roundtrip(out).grad_fn is None


@pytest.mark.parametrize("name", wire.NUMPY_DTYPES)
def test_numpy_arrays_round_trip(name):
    array = np.arange(6).reshape(2, 3).astype(name)
    back = roundtrip(array)
    assert isinstance(back, np.ndarray) and back.dtype == array.dtype
    assert np.array_equal(back, array)
    assert roundtrip(array.T).tolist() == array.T.tolist()


def test_other_numeric_numpy_arrays_cross_as_float64_and_scalars_as_numbers():
    back = roundtrip(np.array([1, 2, 60000], dtype=np.uint16))
    assert back.dtype == np.float64 and back.tolist() == [1.0, 2.0, 60000.0]
    assert roundtrip([np.int64(3), np.float32(0.5), np.bool_(True)]) == [3, 0.5, True]
    assert [type(v) for v in roundtrip([np.int64(3), np.float32(0.5), np.bool_(True)])] == \
        [int, float, bool]


def test_containers_round_trip():
    value = {"plain": [1, "two", None, True, 2.5],
             "tuple": (1, (2, 3)), "set": {1, 2, 3}, "frozen": frozenset({"a"}),
             "int keys": {1: "one", (2, 3): "pair", None: 0},
             "dollar": {"$t": "not a tag"}}
    back = roundtrip(value)
    assert back["plain"] == [1, "two", None, True, 2.5]
    assert back["tuple"] == (1, (2, 3)) and isinstance(back["tuple"][1], tuple)
    assert back["set"] == {1, 2, 3} and isinstance(back["set"], set)
    assert back["frozen"] == {"a"}
    assert back["int keys"] == {1: "one", (2, 3): "pair", None: 0}
    assert back["dollar"] == {"$t": "not a tag"}  # a string key that looks like a tag


def test_iterators_and_views_cross_as_lists():
    d = {"a": 1, "b": 2}
    assert roundtrip([range(3), iter([4, 5]), d.keys(), d.values(), d.items()]) == \
        [[0, 1, 2], [4, 5], ["a", "b"], [1, 2], [("a", 1), ("b", 2)]]


def test_torch_size_dtype_and_device():
    back = roundtrip([torch.Size([2, 3]), torch.float32, torch.bfloat16, torch.int64,
                      torch.device("cpu"), torch.device("meta")])
    assert back == [torch.Size([2, 3]), torch.float32, torch.bfloat16, torch.int64,
                    torch.device("cpu"), torch.device("meta")]
    assert isinstance(back[0], torch.Size)
    exotic = roundtrip(torch.complex64)  # an exotic dtype: its name, never a torch.dtype
    assert isinstance(exotic, str) and exotic.endswith("complex64")


def test_make_crosses_with_its_spec_to_the_make_hook():
    made = []
    back = roundtrip([Make("thing", {"a": (1, 2)})],
                     make=lambda name, spec: made.append((name, spec)) or "built")
    assert back == ["built"] and made == [("thing", {"a": (1, 2)})]


# --------------------------------------------------------------------------- lying values
class LyingInt(int):
    def __int__(self):
        return 99

    def __index__(self):
        return 99

    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class LyingFloat(float):
    def __float__(self):
        return 99.0

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class LyingStr(str):
    def __str__(self):
        return "lie"

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class LyingList(list):
    def __iter__(self):
        return iter([99])

    def __eq__(self, other):
        return True


class LyingTuple(tuple):
    def __iter__(self):
        return iter([99])


class LyingDict(dict):
    def items(self):
        return [("lie", 99)]

    def __iter__(self):
        return iter(["lie"])


def test_lying_builtin_subclasses_arrive_as_plain_values_with_their_true_contents():
    back = roundtrip([LyingInt(3), LyingFloat(0.25), LyingStr("truth"), LyingList([1, 2]),
                      LyingTuple((4, 5)), LyingDict({"k": 6})])
    assert back == [3, 0.25, "truth", [1, 2], (4, 5), {"k": 6}]
    assert [type(v) for v in back] == [int, float, str, list, tuple, dict]
    assert roundtrip(LyingInt(3)) != 4  # a plain int: its __eq__ is int's


class LyingTensor(torch.Tensor):
    """Every result it takes part in, its own detach and numpy included, reads 42."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        out = super().__torch_function__(func, types, args, kwargs or {})
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            with torch._C.DisableTorchFunctionSubclass():
                return torch.full_like(out, 42.0).as_subclass(cls)
        if isinstance(out, np.ndarray):
            return np.full_like(out, 42.0)
        if isinstance(out, torch.Size):
            return torch.Size([1])
        return out


def test_a_tensor_subclass_whose_torch_function_lies_arrives_with_its_true_contents():
    liar = torch.tensor([1.0, 2.0, 3.0]).as_subclass(LyingTensor)
    assert torch.Tensor.detach(liar).numpy().tolist() == [42.0, 42.0, 42.0]  # it does lie
    back = roundtrip(liar)
    assert type(back) is torch.Tensor
    assert back.tolist() == [1.0, 2.0, 3.0]
    assert (back - torch.tensor([1.0, 2.0, 3.0])).abs().max() == 0  # plain arithmetic


class SevensEverywhere(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        return torch.full_like(out, 7.0) if isinstance(out, torch.Tensor) and \
            out.is_floating_point() else out


class NinesBelow(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        return torch.full_like(out, 9.0) if isinstance(out, torch.Tensor) and \
            out.is_floating_point() else out


@pytest.mark.parametrize("mode", [SevensEverywhere, NinesBelow])
def test_a_mode_active_while_encoding_cannot_change_the_values(mode):
    tensor = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    values = [tensor, tensor.t()]
    with mode():
        message = wire.encode(values)
    back = wire.decode(through_frame(message))
    assert back[0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert back[1].tolist() == [[1.0, 3.0], [2.0, 4.0]]


# --------------------------------------------------------------------------- refusals
def test_the_default_encoder_refuses_objects_that_are_not_plain():
    with pytest.raises(WireError, match="cannot send a object"):
        wire.encode(object())
    with pytest.raises(WireError):
        wire.encode(np.array([object()], dtype=object))
    with pytest.raises(WireError, match="nested"):
        nested: list = []
        for _ in range(wire.MAX_DEPTH + 2):
            nested = [nested]
        wire.encode(nested)


def test_an_endless_generator_stops_at_the_item_limit():
    def endless():
        while True:
            yield 1

    with pytest.raises(WireError, match="items"):
        wire.encode(endless())


def test_unknown_objects_go_to_the_unknown_hook():
    body = wire.encode([object()], unknown=lambda value: {"$h": 7, "type": "x"}).body
    assert body == [{"$h": 7, "type": "x"}]


def blob(array: np.ndarray) -> bytes:
    return array.tobytes()


@pytest.mark.parametrize(("body", "blobs", "match"), [
    ({"$evil": 1}, [], "unexpected tag"),
    ({"$t": 1, "$a": 2}, [], "more than one tag"),
    ({"$f": "1e400"}, [], "bad float"),
    ({"$t": ["complex64", [1], 0, {}]}, [b"\0" * 8], "not allowed"),
    ({"$a": ["object", [1], 0]}, [b"\0" * 8], "not allowed"),
    ({"$a": ["bfloat16", [1], 0]}, [b"\0" * 2], "not allowed"),  # tensors only
    ({"$t": ["float32", [2, 2], 0, {}]}, [b"\0" * 12], "do not match"),
    ({"$t": ["float32", [-1], 0, {}]}, [b""], "negative"),
    ({"$t": ["float32", [1], 3, {}]}, [b"\0" * 4], "missing"),
    ({"$t": ["float32", [True], 0, {}]}, [b"\0" * 4], "integer"),
    ({"$t": ["float32", "4", 0, {}]}, [b"\0" * 16], "bad shape"),
    ({"$t": ["float32", [1] * 17, 0, {}]}, [b"\0" * 4], "bad shape"),
    ({"$t": ["float32", [1], 0]}, [b"\0" * 4], "bad tensor"),
    ({"$a": ["float32", [1]]}, [b"\0" * 4], "bad array"),
    ({"$device": "tpu:0"}, [], "bad device"),
    ({"$dict": [[1, 2, 3]]}, [], "bad dict entry"),
    ({"$dict": [[[1], 2]]}, [], "bad dict key"),
    ({"$tuple": "abc"}, [], "expected a list"),
    ({"$h": 1}, [], "unexpected tag"),  # no handle hook
    ({"$ref": 1}, [], "unexpected tag"),  # no ref hook
    ({"$make": "module", "spec": {}}, [], "unexpected tag"),  # no make hook
])
def test_the_decoder_refuses_what_the_format_does_not_allow(body, blobs, match):
    with pytest.raises(WireError, match=match):
        wire.decode(through_frame(Message(body, blobs)))


def test_the_decoder_refuses_nesting_too_deep_and_too_many_items():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(WireError, match="nested"):
        wire.decode(Message(deep))
    with pytest.raises(WireError, match="items"):
        wire.decode(Message([0] * (wire.MAX_ITEMS + 1)))
    with pytest.raises(WireError, match="items"):
        wire.decode(Message({"$set": [0] * (wire.MAX_ITEMS + 1)}))
    with pytest.raises(WireError, match="too long"):
        wire.decode(Message("x" * (wire.MAX_STRING + 1)))


def test_an_unknown_make_is_refused_by_the_probes_builder():
    from cnncourse.probe import fixtures

    with pytest.raises(WireError, match="cannot make"):
        wire.decode(Message({"$make": "os.system", "spec": {}}), make=fixtures.make)
    with pytest.raises(WireError, match="bad \\$make"):
        wire.decode(Message({"$make": 3, "spec": {}}), make=fixtures.make)


def test_decoded_arrays_own_their_memory():
    data = bytearray(np.arange(3, dtype="<f4").tobytes())
    back = wire.decode(Message({"$a": ["float32", [3], 0]}, [bytes(data)]))
    back[0] = 9  # writable: a copy, not a view of the frame
    assert back.tolist() == [9.0, 1.0, 2.0]


# --------------------------------------------------------------------------- frames
def test_frames_cross_a_pipe_with_their_blobs():
    read_fd, write_fd = os.pipe()
    try:
        message = wire.encode({"x": torch.arange(5.0), "y": np.ones(2)})
        wire.write_frame(write_fd, message)
        back = wire.decode(wire.fd_reader(read_fd).read())
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert back["x"].tolist() == [0, 1, 2, 3, 4] and back["y"].tolist() == [1, 1]


def frame(magic=wire.MAGIC, text=b"{}", blobs=(), n_blobs=None, text_size=None) -> bytes:
    head = struct.pack("<4sII", magic, len(text) if text_size is None else text_size,
                       len(blobs) if n_blobs is None else n_blobs)
    return head + text + b"".join(struct.pack("<Q", len(b)) + b for b in blobs)


def read_frame(data: bytes) -> Message:
    return FrameReader(io.BytesIO(data).read).read()


def test_the_frame_reader_reads_a_well_formed_frame():
    assert read_frame(frame(text=b'{"a":1}', blobs=[b"xy"])) == Message({"a": 1}, [b"xy"])


@pytest.mark.parametrize(("data", "match"), [
    (frame(magic=b"HTTP"), "not a frame"),
    (frame(text_size=wire.MAX_FRAME + 1), "too large"),
    (frame(n_blobs=wire.MAX_ITEMS + 1), "too large"),
    (frame(text=b"{not json"), "not JSON"),
    (frame(text=b'"\xff\xfe"'), "not JSON"),
    (frame(blobs=[b""], n_blobs=1)[:-8] + struct.pack("<Q", wire.MAX_FRAME), "too large"),
])
def test_the_frame_reader_refuses_corrupt_frames(data, match):
    with pytest.raises(WireError, match=match):
        read_frame(data)


def test_a_frame_cut_short_is_the_end_of_the_channel():
    whole = frame(text=b'{"a":1}', blobs=[b"abcdef"])
    for cut in (0, 5, 14, len(whole) - 1):
        with pytest.raises(EOFError):
            read_frame(whole[:cut])
