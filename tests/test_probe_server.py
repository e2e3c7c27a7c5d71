"""The probe (``cnncourse.probe.server``) as the judge reaches it, through a ``LocalChannel``
and handles (``client.Remote``): its guard traps forbidden functions wherever the student
bound them, ``course_reference`` sees the course's reference however it is dressed, its
operations answer in plain data, the student's errors come back as ``raised`` with the line,
and a request it cannot serve is an ``error``, never an exception. Last, ``fixtures``: a plain
torch network crosses as a spec and is rebuilt exactly."""

from __future__ import annotations

import copy
import functools
import itertools
import linecache
import types
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncourse import ops
from cnncourse.analysis.arithmetic import ReceptiveField
from cnncourse.probe import fixtures, wire
from cnncourse.probe.client import LocalChannel, ProbeUnavailable, Remote, local_remote, lookup
from cnncourse.probe.guard import Guard, course_reference, reference_objects
from cnncourse.probe.server import ProbeServer
from cnncourse.probe.wire import Make, Message

CONV = ["torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d",
        "torch.nn.functional.unfold", "torch.Tensor.unfold", "torch.ops.*"]
REFERENCE_MODULES = ["cnncourse.ops", "cnncourse.analysis.arithmetic"]
GUARD = {"forbidden": CONV, "references": REFERENCE_MODULES}
X, W = torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3)


def cell(source: str, name: str = "student") -> tuple[types.FunctionType, dict]:
    """A function as a notebook cell defines it (its globals are the notebook's; its lines
    in ``linecache``, as IPython keeps them)."""
    filename = f"<cell {next(_CELLS)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"torch": torch, "nn": nn, "F": F}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name], namespace


_CELLS = itertools.count(1)


def originals() -> tuple:
    return (F.conv2d, torch.conv2d, nn.Conv2d.__init__, vars(torch.Tensor).get("unfold"),
            F.unfold, ops.conv2d_loops, ops.conv2d_im2col, ReceptiveField.__init__,
            torch.get_num_threads())


# --------------------------------------------------------------------------- the guard
@pytest.mark.parametrize(("source", "label"), [
    ("def student(x, w):\n    return F.conv2d(x, w)\n", "torch.nn.functional.conv2d"),
    ("def student(x, w):\n    return torch.conv2d(x, w)\n", "torch.conv2d"),
    ("from torch.nn.functional import conv2d as c\n"
     "def student(x, w):\n    return c(x, w)\n", "c (that is torch.nn.functional.conv2d)"),
    ("myconv = F.conv2d\ndef student(x, w):\n    return myconv(x, w)\n", "myconv (that is"),
    ("def make():\n    conv = F.conv2d\n    def student(x, w):\n        return conv(x, w)\n"
     "    return student\nstudent = make()\n", "torch.nn.functional.conv2d"),
    ("def student(x, w, conv=F.conv2d):\n    return conv(x, w)\n", "torch.nn.functional.conv2d"),
    ("def student(x, w):\n    return x.unfold(2, 3, 1)\n", "torch.Tensor.unfold"),
    ("def student(x, w):\n    return F.unfold(x, 3)\n", "torch.nn.functional.unfold"),
    ("def student(x, w):\n    return nn.Conv2d(1, 1, 3)(x)\n", "torch.nn.Conv2d"),
    ("def helper(x, w):\n    return F.conv2d(x, w)\n"
     "def student(x, w):\n    return helper(x, w)\n", "torch.nn.functional.conv2d"),
])
def test_forbidden_calls_are_trapped_however_they_are_bound(source, label):
    before = originals()
    student, namespace = cell(source)
    answer = local_remote(student).call(X, W, guard=GUARD)
    assert "violation" in answer, answer
    assert answer["violation"]["kind"] == "forbidden"
    assert answer["violation"]["label"].startswith(label)
    assert originals() == before  # everything put back
    if "c" in namespace:
        assert namespace["c"] is F.conv2d
    if student.__defaults__:
        assert student.__defaults__ == (F.conv2d,)
    if student.__closure__:
        assert student.__closure__[0].cell_contents is F.conv2d


def test_a_violation_cannot_be_swallowed_by_the_students_except():
    student, _ = cell("def student(x, w):\n"
                      "    try:\n        F.conv2d(x, w)\n    except Exception:\n        pass\n"
                      "    try:\n        F.conv2d(x, w)\n    except BaseException:\n        pass\n"
                      "    return x\n")
    answer = local_remote(student).call(X, W, guard=GUARD)
    assert answer == {"violation": {"kind": "forbidden",
                                    "label": "torch.nn.functional.conv2d"}}


def test_the_same_function_outside_a_guarded_call_is_allowed():
    student, _ = cell("def student(x, w):\n    return x * 2\n")
    assert torch.equal(local_remote(student).call(X, W, guard=GUARD)["ok"], X * 2)
    assert F.conv2d(X, W).shape == (1, 1, 3, 3)  # the judge's own use, between calls
    helper, _ = cell("def student(x, w):\n    return F.conv2d(x, w)\n")
    assert torch.allclose(local_remote(helper).call(X, W)["ok"], F.conv2d(X, W))  # no guard


GROUPS = {"path": "torch.nn.functional.conv2d",
          "unless": {"name": "groups", "position": 6, "equals": 1, "default": 1}}


@pytest.mark.parametrize(("call", "allowed"), [
    ("F.conv2d(x, w)", True),
    ("F.conv2d(x, w, groups=1)", True),
    ("F.conv2d(x, w, None, 1, 0, 1, 1)", True),
    ("F.conv2d(x, w[:, :1], groups=2)", False),
    ("F.conv2d(x, w[:, :1], None, 1, 0, 1, 2)", False),
])
def test_a_conditional_entry_allows_the_call_only_with_that_argument(call, allowed):
    student, _ = cell(f"def student(x, w):\n    return {call}\n")
    x2, w2 = torch.randn(1, 2, 5, 5), torch.randn(2, 2, 3, 3)
    answer = local_remote(student).call(x2, w2, guard={"forbidden": [GROUPS]})
    assert ("ok" in answer) is allowed, answer
    if not allowed:
        assert answer["violation"]["label"] == "torch.nn.functional.conv2d"


def test_a_wildcard_entry_is_left_to_the_source_rules():
    student, _ = cell("def student(x, w):\n    return torch.ops.aten.add(x, x)\n")
    answer = local_remote(student).call(X, W, guard={"forbidden": ["torch.ops.*"]})
    assert torch.equal(answer["ok"], X + X)


def test_the_guard_traps_nothing_once_it_is_out_and_runs_on_one_thread():
    student, namespace = cell("from torch.nn.functional import conv2d as c\n"
                              "def student(x, w):\n    return torch.get_num_threads()\n")
    before = originals()
    with Guard(student, forbidden=CONV) as guard:
        assert guard.run(student, X, W) == 1
        assert namespace["c"] is not F.conv2d  # trapped while the guard is in
        assert F.conv2d(X, W).shape == (1, 1, 3, 3)  # not armed between calls
    assert originals() == before and namespace["c"] is F.conv2d


# --------------------------------------------------------------------------- the reference
REFERENCES = reference_objects(REFERENCE_MODULES)


def test_reference_objects_are_the_public_functions_and_classes():
    assert ops.conv2d_loops in REFERENCES and ReceptiveField in REFERENCES
    assert F.conv2d not in REFERENCES and torch not in REFERENCES
    assert reference_objects(["cnncourse.not_there"]) == []


class MyField(ReceptiveField):
    pass


@functools.wraps(ops.conv2d_loops)
def wrapped(x, weight):
    return ops.conv2d_loops(x, weight)


def copied_code():
    fn = types.FunctionType(ops.conv2d_loops.__code__, {"torch": torch, "F": F}, "mine")
    fn.__module__ = "__main__"
    return fn


def with_default(x, weight, conv=ops.conv2d_im2col):
    return conv(x, weight)


def with_kwdefault(x, weight, *, conv=ops.conv2d_im2col):
    return conv(x, weight)


@pytest.mark.parametrize(("answer", "detail"), [
    (ops.conv2d_loops, "it is cnncourse.ops.conv2d_loops"),
    (wrapped, "it is cnncourse.ops.conv2d_loops"),
    (functools.partial(ops.conv2d_loops, stride=1), "it is cnncourse.ops.conv2d_loops"),
    (MyField, "it subclasses the course's cnncourse.analysis.arithmetic.ReceptiveField"),
    (copied_code(), "it runs a copy of the reference's code"),
    (with_default, "it takes the reference cnncourse.ops.conv2d_im2col as a default"),
    (with_kwdefault, "it takes the reference cnncourse.ops.conv2d_im2col as a default"),
])
def test_course_reference_sees_the_reference_however_it_is_dressed(answer, detail):
    assert course_reference(answer, REFERENCES).startswith(detail)
    info = local_remote(answer).info(REFERENCE_MODULES)  # the same, asked through the probe
    assert info["course"].startswith(detail)


def test_own_code_is_not_the_reference():
    student, _ = cell("def student(x, w):\n    return x\n")
    assert course_reference(student, REFERENCES) is None
    info = local_remote(student).info(REFERENCE_MODULES)
    assert info["course"] is None and info["class_course"] is None
    assert info["callable"] is True and info["mro"][0] == "builtins.function"


def test_an_instance_of_a_course_subclass_is_named_by_its_class():
    info = local_remote(MyField(3, 1, 1.0)).info(REFERENCE_MODULES)
    assert info["class_course"].startswith("it subclasses the course's")


def test_a_call_of_the_reference_inside_the_answer_is_a_reference_violation():
    student, _ = cell("from cnncourse.ops import conv2d_im2col as helper\n"
                      "def student(x, w):\n    return helper(x, w)\n")
    answer = local_remote(student).call(X, W, guard=GUARD)
    assert answer["violation"]["kind"] == "reference"
    assert answer["violation"]["label"].startswith("helper (that is cnncourse.ops.")
    built, _ = cell("from cnncourse.analysis.arithmetic import ReceptiveField\n"
                    "def student(x, w):\n    return ReceptiveField(3, 1, 1.0)\n")
    answer = local_remote(built).call(X, W, guard=GUARD)
    assert answer["violation"] == {"kind": "reference",
                                   "label": "cnncourse.analysis.arithmetic.ReceptiveField"}
    assert ReceptiveField(3, 1, 1.0).size == 3  # restored


# --------------------------------------------------------------------------- operations
def test_forward_with_grad_output_returns_input_and_parameter_gradients():
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    x, grad = torch.randn(4, 3), torch.randn(4, 2)
    expected = copy.deepcopy(layer)
    x_ref = x.clone().requires_grad_(True)
    out_ref = expected(x_ref)
    out_ref.backward(grad)
    answer = local_remote(layer).forward(x, grad_output=grad)["ok"]
    assert torch.allclose(answer["out"], out_ref.detach())
    assert torch.allclose(answer["input_grads"][0], x_ref.grad)
    assert set(answer["param_grads"]) == {"weight", "bias"}
    assert torch.allclose(answer["param_grads"]["weight"], expected.weight.grad)
    assert torch.allclose(answer["param_grads"]["bias"], expected.bias.grad)


def test_forward_sets_the_mode_asked_for():
    net = nn.Sequential(nn.BatchNorm1d(2))
    remote = local_remote(net)
    x = torch.tensor([[0.0, 2.0], [2.0, 4.0]])
    out_train = remote.forward(x, train=True)["ok"]["out"]
    assert torch.allclose(out_train, F.batch_norm(x, None, None, training=True))
    assert net.training is True
    remote.forward(x, train=False)
    assert net.training is False and not net[0].training


def small_net() -> nn.Sequential:
    torch.manual_seed(1)
    net = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3, stride=2, bias=False),
                                    bn=nn.BatchNorm2d(2), act=nn.ReLU(), flat=nn.Flatten(),
                                    fc=nn.Linear(8, 3)))
    net.conv.weight.requires_grad_(False)
    net.bn.eval()
    return net


def test_describe_reads_layers_hyper_parameters_parameters_and_buffers():
    layers = local_remote(small_net()).describe()
    by_name = {layer["name"]: layer for layer in layers}
    assert list(by_name) == ["", "conv", "bn", "act", "flat", "fc"]
    assert by_name[""]["children"] == ["conv", "bn", "act", "flat", "fc"]
    conv = by_name["conv"]
    assert conv["torch_type"] == "Conv2d" and conv["type"] == "torch.nn.modules.conv.Conv2d"
    assert conv["attrs"]["stride"] == (2, 2) and conv["attrs"]["bias"] is False
    assert conv["attrs"]["in_channels"] == 1 and conv["attrs"]["kernel_size"] == (3, 3)
    assert conv["params"] == [["weight", [2, 1, 3, 3], False]]
    assert by_name["bn"]["training"] is False and by_name["fc"]["training"] is True
    assert [b[0] for b in by_name["bn"]["buffers"]] == ["running_mean", "running_var",
                                                        "num_batches_tracked"]
    assert by_name["fc"]["attrs"]["out_features"] == 3 and by_name["fc"]["attrs"]["bias"]


def test_describe_names_the_torch_class_a_students_layer_derives_from():
    namespace: dict = {"nn": nn}
    exec("class MyConv(nn.Conv2d):\n    pass\n", namespace)
    layers = local_remote(nn.Sequential(namespace["MyConv"](1, 1, 3))).describe()
    assert layers[1]["torch_type"] == "Conv2d" and layers[1]["type"].endswith(".MyConv")


def test_assign_load_and_state_on_a_small_module():
    net = small_net()
    remote = local_remote(net)
    weight = torch.arange(24.0).reshape(3, 8)
    assert remote.assign({"fc.weight": weight, "bn.running_mean": torch.ones(2)}) == {"ok": None}
    assert torch.equal(net.fc.weight.detach(), weight) and torch.equal(net.bn.running_mean,
                                                                       torch.ones(2))
    assert net.fc.weight.requires_grad  # still a parameter of the module
    wrong = remote.assign({"fc.weight": torch.zeros(2, 2)})["raised"]
    assert wrong["type"] == "ValueError" and "fc.weight has shape (3, 8)" in wrong["message"]
    assert remote.assign({"fc.nothing": torch.zeros(1)})["raised"]["type"] == "KeyError"
    state = remote.state()["ok"]
    assert set(state) == set(net.state_dict()) and torch.equal(state["fc.weight"], weight)
    state["fc.bias"] = torch.full((3,), 5.0)
    assert remote.load(state) == {"ok": {"missing": [], "unexpected": []}}
    assert torch.equal(net.fc.bias.detach(), torch.full((3,), 5.0))
    partial = {"fc.bias": torch.zeros(3), "extra": torch.zeros(1)}
    answer = remote.load(partial, strict=False)["ok"]
    assert answer["unexpected"] == ["extra"] and "fc.weight" in answer["missing"]
    assert remote.load(partial)["raised"]["type"] == "RuntimeError"


def test_call_returns_handles_methods_and_arguments_changed_in_place():
    namespace: dict = {}
    exec("def grow(xs, t):\n    xs.append(len(xs))\n    t.add_(1)\n    return None\n",
         namespace)
    answer = local_remote(namespace["grow"]).ask(
        "call", args=[[1, 2], torch.zeros(2)], kwargs={}, return_args=True)["ok"]
    assert answer["args"][0] == [1, 2, 2] and answer["args"][1].tolist() == [1.0, 1.0]
    made = local_remote(nn.Linear).call(3, 2)["ok"]
    assert isinstance(made, Remote) and made.is_module and made.short_type == "Linear"
    params = made.call(method="parameters")["ok"]
    assert [tuple(p.shape) for p in params] == [(2, 3), (2,)]
    assert all(isinstance(p, nn.Parameter) for p in params)


def test_a_call_on_the_meta_device_builds_without_memory():
    remote = local_remote(nn.Linear)
    answer = remote.channel.ask("call", target=remote, args=[10_000, 10_000], kwargs={},
                                device="meta")
    layers = answer["ok"].describe()
    assert layers[0]["params"][0] == ["weight", [10_000, 10_000], True]


def test_lookup_gives_handles_plain_values_and_name_errors():
    def f():
        return 1

    channel = LocalChannel(ProbeServer({"n": 3, "xs": [1, (2, 3)], "f": f}))
    assert lookup(channel, "n") == 3 and lookup(channel, "xs") == [1, (2, 3)]
    handle = lookup(channel, "f")
    assert isinstance(handle, Remote) and handle.callable and handle.name == "f"
    with pytest.raises(NameError, match="'missing' is not defined"):
        lookup(channel, "missing")


def test_handles_are_kept_once_and_released():
    server = ProbeServer()
    thing = object()
    first, second = server.register(thing), server.register(thing)
    assert first["$h"] == second["$h"]
    channel = LocalChannel(server)
    remote = Remote(channel, first)
    assert channel.ask("release", id=remote.id) == {"ok": None}
    with pytest.raises(ProbeUnavailable, match="no object"):
        remote.info([])


# --------------------------------------------------------------------------- the student's errors
def test_an_error_in_the_students_code_is_raised_with_where():
    student, _ = cell("def student(x, w):\n    y = x + 1\n    raise ValueError('bad ' + str(2))\n")
    raised = local_remote(student).call(X, W, guard=GUARD)["raised"]
    assert raised["type"] == "ValueError" and raised["message"] == "bad 2"
    assert raised["where"] == "line 3 of student: raise ValueError('bad ' + str(2))"
    assert raised["not_implemented"] is False and raised["memory"] is False
    assert raised["course_module"] is None


@pytest.mark.parametrize(("body", "key", "value"), [
    ("raise NotImplementedError()", "not_implemented", True),
    ("raise MemoryError()", "memory", True),
    ("raise RuntimeError('DefaultCPUAllocator: can\\'t allocate memory: 1 GB')", "memory", True),
    ("import cnncourse.not_there", "course_module", "cnncourse.not_there"),
    ("from cnncourse.models import not_a_model", "course_module", "cnncourse.models"),
    ("import numpy_not_there", "course_module", None),
])
def test_raised_answers_say_what_kind_of_error(body, key, value):
    student, _ = cell(f"def student(x, w):\n    {body}\n")
    assert local_remote(student).call(X, W)["raised"][key] == value


def test_an_exception_whose_str_fails_is_named_by_its_type():
    student, _ = cell("class Weird(Exception):\n    def __str__(self):\n        raise OSError\n"
                      "def student(x, w):\n    raise Weird()\n")
    raised = local_remote(student).call(X, W)["raised"]
    assert raised["type"] == "Weird" and raised["message"] == "<Weird>"


def test_a_result_that_is_not_plain_data_comes_back_as_a_handle():
    student, _ = cell("class Odd:\n    def __repr__(self):\n        raise OSError\n"
                      "def student(x, w):\n    return Odd()\n")
    got = local_remote(student).call(X, W)["ok"]
    assert isinstance(got, Remote) and repr(got) == "<Odd>" and not got.callable


# --------------------------------------------------------------------------- requests not served
def serve(server: ProbeServer, body, blobs=()) -> dict:
    reply = server.handle(Message(body, list(blobs)))
    return wire.decode(reply, handle=lambda info: info)


@pytest.mark.parametrize(("body", "blobs", "match"), [
    ([1, 2], [], "a request must be a dict"),
    ({"op": 3}, [], "a request must be a dict"),
    ({"op": "format_disk"}, [], "unknown operation"),
    ({"op": "describe", "target": {"$ref": 999}}, [], "no object 999"),
    ({"op": "describe", "target": 3}, [], "describe needs a module"),
    ({"op": "state", "target": 3}, [], "state needs a module"),
    ({"op": "load", "target": 3, "state": {}}, [], "load needs a module"),
    ({"op": "call", "target": None, "args": "x"}, [], "bad arguments"),
    ({"op": "call", "target": None, "args": [], "device": "cuda"}, [], "bad device"),
    ({"op": "call", "target": None, "args": [], "guard": [1]}, [], "bad guard"),
    ({"op": "forward", "target": 3, "args": []}, [], "forward needs a callable"),
    ({"op": "call", "args": [{"$t": ["float32", [9], 0, {}]}]}, [b"\0"], "do not match"),
    ({"op": "make", "value": {"$make": "module", "spec": {"tree": {"class": "os"}}}}, [],
     "only torch.nn layers"),
    ({"op": "call", "target": None, "guard": {"forbidden": ["not.a.module.fn"]}}, [],
     "the guard could not be set"),
])
def test_a_request_that_cannot_be_served_is_an_error_never_an_exception(body, blobs, match):
    answer = serve(ProbeServer(), body, blobs)
    assert set(answer) == {"error"} and match in answer["error"], answer


def test_an_answer_that_cannot_be_sent_is_an_error():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    server = ProbeServer({"deep": deep})
    answer = serve(server, {"op": "name", "name": "deep"})
    assert answer["error"].startswith("the answer could not be sent as plain data")


def test_the_channel_turns_an_error_into_probe_unavailable():
    channel = LocalChannel(ProbeServer())
    with pytest.raises(ProbeUnavailable, match="unknown operation"):
        channel.ask("format_disk")
    assert issubclass(ProbeUnavailable, BaseException)
    assert not issubclass(ProbeUnavailable, Exception)


def test_the_channel_refuses_answers_out_of_turn():
    class Liar(LocalChannel):
        def exchange(self, message):
            return wire.encode({"passed": True})

    with pytest.raises(ProbeUnavailable, match="out of turn"):
        Liar(ProbeServer()).ask("ping")
    assert LocalChannel(ProbeServer()).ask("ping") == {"ok": "pong"}


# --------------------------------------------------------------------------- fixtures
def network() -> nn.Module:
    torch.manual_seed(2)
    body = nn.Sequential(OrderedDict(
        conv=nn.Conv2d(3, 4, 3, padding=1, bias=False), bn=nn.BatchNorm2d(4, momentum=0.2),
        act=nn.ReLU(inplace=True), pool=nn.MaxPool2d(2, ceil_mode=True),
        drop=nn.Dropout(0.3), gap=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(),
        fc=nn.Linear(4, 5)))
    with torch.no_grad():
        body.bn.running_mean.add_(0.5)
        body.bn.running_var.mul_(2.0)
        body.bn.num_batches_tracked.fill_(7)
    root = nn.Module()
    root.add_module("body", body)
    root.add_module("heads", nn.ModuleList([nn.Linear(5, 2), nn.Linear(5, 3, bias=False)]))
    root.add_module("extra", nn.ModuleDict({"norm": nn.LayerNorm(5), "gelu": nn.GELU("tanh")}))
    body.conv.weight.requires_grad_(False)
    root.heads[1].weight.requires_grad_(False)
    body.bn.eval()
    root.extra.eval()
    return root


def test_a_plain_network_crosses_as_a_spec_and_is_rebuilt_exactly():
    original = network()
    spec = fixtures.module_spec(original)
    message = wire.encode(spec)
    state = torch.random.get_rng_state()
    rebuilt = wire.decode(wire.FrameReader(__import__("io").BytesIO(
        wire.to_bytes(message)).read).read(), make=fixtures.make)
    assert torch.equal(torch.random.get_rng_state(), state)  # no draw from the global stream
    assert [n for n, _ in rebuilt.named_modules()] == [n for n, _ in original.named_modules()]
    assert [type(m) for _, m in rebuilt.named_modules()][1:] == \
        [type(m) for _, m in original.named_modules()][1:]
    assert {n: m.training for n, m in rebuilt.named_modules()} == \
        {n: m.training for n, m in original.named_modules()}
    assert {n: p.requires_grad for n, p in rebuilt.named_parameters()} == \
        {n: p.requires_grad for n, p in original.named_parameters()}
    assert rebuilt.state_dict().keys() == original.state_dict().keys()
    for key, value in original.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value), key
    assert rebuilt.body.bn.momentum == 0.2 and rebuilt.body.pool.ceil_mode is True
    assert rebuilt.body.conv.bias is None and rebuilt.heads[1].bias is None
    assert rebuilt.extra.gelu.approximate == "tanh"
    x = torch.randn(2, 3, 6, 6)
    original.body.eval(), rebuilt.body.eval()
    assert torch.equal(rebuilt.body(x), original.body(x))


def test_a_spec_made_on_the_probe_is_kept_there_as_a_handle():
    original = network()
    channel = LocalChannel(ProbeServer())
    made = channel.ask("make", value=fixtures.module_spec(original))["ok"]
    assert isinstance(made, Remote) and made.is_module
    state = made.state()["ok"]
    assert all(torch.equal(state[k], v) for k, v in original.state_dict().items())


def test_fixtures_refuse_what_is_not_a_torch_layer():
    for tree in ({"class": "Module", "children": [["x", {"class": "Identity", "args": {},
                                                         "children": []}]], "name": "_private"},
                 {"class": "functional"}, {"class": "os.system"}, {"class": "Conv2d",
                                                                    "args": "3"}):
        with pytest.raises(wire.WireError):
            fixtures.make("module", {"tree": tree})
    layer = nn.Linear(2, 2)
    layer.add_module("inner", nn.ReLU())  # a layer with children has no spec
    with pytest.raises(wire.WireError, match="children"):
        fixtures.module_spec(layer)


def test_a_shared_layer_is_refused_rather_than_rebuilt_as_two():
    shared = nn.Linear(3, 3)
    with pytest.raises(wire.WireError, match="shared layer"):
        fixtures.module_spec(nn.Sequential(shared, nn.ReLU(), shared))


def test_a_course_class_crosses_as_a_look_alike_with_its_class_attributes():
    class Bottleneck(nn.Module):
        expansion = 4
        secret = object()

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.conv(x)

    spec = fixtures.module_spec(Bottleneck(), class_attributes=("expansion", "secret"))
    made = wire.decode(wire.encode(spec), make=fixtures.make)
    assert type(made).__name__ == "Bottleneck" and type(made).expansion == 4
    assert not hasattr(type(made), "secret")
    assert type(made).__module__ == "cnncourse.probe.fixtures"
    assert made.state_dict().keys() == {"conv.weight", "conv.bias"}
    assert not hasattr(made, "forward") or type(made).forward is nn.Module.forward


def test_recording_blocks_and_call_recorders_are_built_from_checked_specs():
    block = fixtures.make("recording_block", {"name": "Basic", "expansion": 2})
    layer = block(3, 4, stride=2)
    out = layer(torch.zeros(1, 3, 5, 5))
    assert out.shape == (1, 8, 3, 3) and block.built == [(3, 4, 2)]
    assert block.inputs == [(1, 3, 5, 5)] and block.__name__ == "Basic"
    recorder = fixtures.make("call_recorder", {"delays": [0.0, 0.01], "default": 0.0})
    recorder(1), recorder(2)
    assert len(recorder.calls) == 2 and recorder.calls[1][1] - recorder.calls[1][0] >= 0.009
    for name, spec in (("recording_block", {"name": "B", "expansion": 0}),
                       ("recording_block", {"name": "__class__", "expansion": 1}),
                       ("call_recorder", {"delays": [5.0]}),
                       ("call_recorder", {"delays": [True]}),
                       ("open", {})):
        with pytest.raises(wire.WireError):
            fixtures.make(name, spec)


def test_module_spec_is_a_make():
    assert isinstance(fixtures.module_spec(nn.ReLU()), Make)
    assert fixtures.module_spec(nn.ReLU(), with_state=False).spec == {
        "tree": {"class": "ReLU", "args": {"inplace": False}, "training": True}}
