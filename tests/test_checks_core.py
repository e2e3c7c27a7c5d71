"""The judge's shared machinery (``cnncourse.checks._core``): its messages, the answer as a
handle (``answer_of``, never the course's reference), the ``Guard`` that calls the student's
function through a local probe and turns what went wrong into one message, modules read
layer by layer, and hidden cases drawn from a seed."""

from __future__ import annotations

import functools
import random
import re
import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncourse import ops
from cnncourse.analysis.arithmetic import ReceptiveField
from cnncourse.checks import _core
from cnncourse.checks._core import (
    Call,
    Guard,
    answer_of,
    check_close,
    check_dtype,
    check_equal,
    check_int,
    check_int_list,
    check_module,
    check_shape,
    check_type,
    checker,
    diagnose,
    hidden_draws,
    hidden_rng,
    layers_of,
    made_near,
    parameter_count,
    raised_message,
    refuse_reference,
    report_success,
    run_module,
    value_of,
)
from cnncourse.models.lenet import ScaledTanh
from cnncourse.probe import fixtures
from cnncourse.probe.client import Remote, local_remote

REFS = ("cnncourse.ops", "cnncourse.analysis.arithmetic")
CONV = ("torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d",
        "torch.nn.functional.unfold", "torch.Tensor.unfold")
X, W = torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3)
CALL = Call("conv2d_loops", [("x", X), ("weight", W)])


def run_guarded(fn, call=CALL, forbidden=CONV):
    answer = answer_of(fn, "conv2d_loops", REFS)
    guard = Guard(answer, "conv2d_loops", forbidden=forbidden,
                  must="compute the convolution itself", references=REFS)
    return guard.call(call)


def notebook(source: str, name: str = "student"):
    namespace = {"torch": torch, "nn": nn, "F": F}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace[name]


# --------------------------------------------------------------------------- messages
def test_call_names_tensors_by_shape_and_options_by_value():
    call = Call("conv2d_loops", [("x", torch.zeros(2, 3, 7, 7)),
                                 ("weight", torch.zeros(4, 3, 3, 3)), ("bias", None)],
                {"stride": 2, "padding": 1})
    assert str(call) == ("conv2d_loops(x (2, 3, 7, 7), weight (4, 3, 3, 3), bias=None, stride=2, "
                         "padding=1)")
    assert str(Call("conv_output_size", [(None, 32), (None, 3)], {"stride": 2})) == \
        "conv_output_size(32, 3, stride=2)"


def test_shape_message_has_call_expected_got_and_hint():
    with pytest.raises(AssertionError) as err:
        check_shape(torch.zeros(2, 4, 3, 3), (2, 4, 4, 4), CALL, hint="pad both sides.")
    assert str(err.value) == ("conv2d_loops(x (1, 1, 5, 5), weight (1, 1, 3, 3)): expected output "
                              "shape (2, 4, 4, 4), got (2, 4, 3, 3). Hint: pad both sides.")


def test_close_names_the_worst_element_and_counts_the_bad_ones():
    expected = torch.zeros(1, 1, 3, 3)
    got = expected.clone()
    got[0, 0, 1, 2] = 2.5
    got[0, 0, 0, 0] = 0.5
    with pytest.raises(AssertionError) as err:
        check_close(got, expected, CALL, hint="look again.")
    text = str(err.value)
    assert "in 2 of 9 places" in text
    assert "at index (0, 0, 1, 2): expected 0, got 2.5" in text
    assert text.endswith("Hint: look again.")
    check_close(expected + 1e-7, expected, CALL)  # within tolerance: no error


def test_close_treats_nan_as_wrong():
    with pytest.raises(AssertionError, match="got nan"):
        check_close(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), CALL)


def test_type_dtype_and_equal_messages():
    with pytest.raises(AssertionError, match=r"f: expected the result to be a Tensor, got list"):
        check_type([1], torch.Tensor, "f")
    with pytest.raises(AssertionError, match="expected output dtype torch.int64, got torch.fl"):
        check_dtype(torch.zeros(1), torch.int64, "f")
    with pytest.raises(AssertionError, match=r"differ in 1 of 3 places; at index \(1,\): "
                                             r"expected 5, got 4"):
        check_equal(torch.tensor([1, 4, 6]), torch.tensor([1, 5, 6]), "f")
    check_equal(torch.tensor([1, 5]), torch.tensor([1, 5]), "f")


def test_int_refuses_a_whole_float_with_its_own_hint():
    with pytest.raises(AssertionError) as err:
        check_int(30.0, 30, "f(32, 3)", hint="other", float_hint="use //.")
    assert str(err.value) == "f(32, 3): expected the integer 30, got 30.0 (a float). Hint: use //."
    with pytest.raises(AssertionError, match="expected 30, got 29"):
        check_int(29, 30, "f(32, 3)")
    with pytest.raises(AssertionError, match="got True"):
        check_int(True, 1, "f")
    check_int(np.int64(30), 30, "f")  # numpy integers are integers


def test_int_list_reports_type_length_and_values():
    with pytest.raises(AssertionError, match="to be a list of 2 integers, got int"):
        check_int_list(5, [3, 5], "rf")
    with pytest.raises(AssertionError, match="to have 2 entries"):
        check_int_list([3], [3, 5], "rf")
    with pytest.raises(AssertionError, match=r"expected \[3, 5\], got \[3, 6\]"):
        check_int_list([3, 6], [3, 5], "rf")
    check_int_list((3, 5), [3, 5], "rf")


def test_diagnose_returns_the_first_matching_mistake_and_skips_broken_ones():
    def broken():
        raise ZeroDivisionError

    mistakes = [("broken", broken), ("off by one", lambda: 29), ("also 29", lambda: 29)]
    assert diagnose(29, mistakes, "default") == "off by one"
    assert diagnose(31, mistakes, "default") == "default"
    assert diagnose(torch.ones(2), [("ones", lambda: torch.ones(2))]) == "ones"
    assert diagnose(torch.ones(3), [("ones", lambda: torch.ones(2))]) is None


def test_hints_are_computed_only_on_failure():
    calls = []
    check_int(3, 3, "f", hint=lambda: calls.append(1) or "never")
    assert calls == []
    with pytest.raises(AssertionError, match="Hint: computed"):
        check_int(2, 3, "f", hint=lambda: "computed")


def test_success_is_one_line(capsys):
    report_success("conv_output_size", 14)
    report_success("conv_output_size", 20, hidden=True)
    assert capsys.readouterr().out.splitlines() == [
        "\u2713 conv_output_size: 14 cases passed",
        "\u2713 conv_output_size: 20 cases passed (hidden cases included)",
    ]


def test_a_checker_raises_one_short_assertion_and_restores_threads():
    torch.set_num_threads(2)

    @checker
    def check_something(value):
        assert torch.get_num_threads() == 1
        try:
            raise ValueError("the student's")
        except ValueError as student:
            raise AssertionError("f: wrong.") from student

    with pytest.raises(AssertionError) as err:
        check_something(1)
    assert str(err.value) == "f: wrong." and isinstance(err.value.__cause__, ValueError)
    assert torch.get_num_threads() == 2


def test_raised_message_names_the_call_the_error_and_where():
    assert raised_message("f(3)", {"type": "ValueError", "message": "bad", "where":
                                   "line 2 of f: return x[9]"}) == \
        "f(3) raised ValueError: bad (at line 2 of f: return x[9])"
    assert raised_message("f(3)", {"type": "MemoryError", "memory": True}) == \
        "f(3) raised MemoryError (it ran out of memory)"
    assert raised_message("f", "garbage") == "f raised an error"


# --------------------------------------------------------------------------- the answer
def test_answer_of_gives_a_handle_to_the_students_function():
    def mine(x, weight):
        return x

    answer = answer_of(mine, "conv2d_loops", REFS)
    assert isinstance(answer, Remote) and answer.callable and answer.name == "mine"
    assert answer_of(answer, "conv2d_loops", REFS) is answer  # a handle already: as it is


def test_a_non_function_answer_is_named():
    with pytest.raises(AssertionError, match="conv_output_size: expected a function, got int 3"):
        answer_of(3, "conv_output_size")
    with pytest.raises(AssertionError, match="expected a function, got int"):
        answer_of(local_remote(3), "conv_output_size")


def copied():
    fn = types.FunctionType(ops.conv2d_loops.__code__, {"F": F, "torch": torch}, "mine")
    fn.__module__ = "__main__"
    return fn


class MyField(ReceptiveField):
    pass


def sneaky(x, weight, conv=ops.conv2d_im2col):
    return conv(x, weight)


@pytest.mark.parametrize(("answer", "detail"), [
    (ops.conv2d_loops, "it is cnncourse.ops.conv2d_loops"),
    (functools.partial(ops.conv2d_loops, stride=1), "it is cnncourse.ops.conv2d_loops"),
    (MyField, "it subclasses the course's cnncourse.analysis.arithmetic.ReceptiveField"),
    (copied(), "it runs a copy of the reference's code"),
    (sneaky, "it takes the reference cnncourse.ops.conv2d_im2col as a default argument"),
])
def test_the_reference_is_refused_however_it_is_dressed(answer, detail):
    with pytest.raises(AssertionError) as err:
        answer_of(answer, "conv2d_loops", REFS)
    assert str(err.value).startswith(f"conv2d_loops must be your own code: {detail}")


def test_anything_from_the_course_package_is_refused():
    def fake(x, weight):
        return x

    fake.__module__ = "cnncourse.something"
    with pytest.raises(AssertionError, match="must be your own code"):
        answer_of(fake, "conv2d_loops", REFS)
    with pytest.raises(AssertionError, match="must be your own code: it is"):
        refuse_reference(local_remote(ScaledTanh()), "scaled_tanh", ["cnncourse.models.lenet"])


# --------------------------------------------------------------------------- calling it
def test_the_result_comes_back_as_plain_data():
    class Liar(torch.Tensor):
        def __eq__(self, other):
            return torch.ones((), dtype=torch.bool)

    def student(x, weight):
        return (x[:, :, :3, :3] * 0).as_subclass(Liar)

    out = run_guarded(student)
    assert type(out) is torch.Tensor and torch.equal(out, torch.zeros(1, 1, 3, 3))


def test_the_student_gets_copies_of_the_judges_tensors():
    x = X.clone()

    def clobber(x, weight):
        x.zero_()
        return x

    assert torch.equal(run_guarded(clobber, Call("f", [("x", x), ("weight", W)])),
                       torch.zeros_like(X))
    assert torch.equal(x, X)


def test_forbidden_function_fails_with_its_name():
    with pytest.raises(AssertionError) as err:
        run_guarded(notebook("def student(x, weight):\n    return F.conv2d(x, weight)\n"))
    assert str(err.value) == ("conv2d_loops must compute the convolution itself: it called "
                              "torch.nn.functional.conv2d. Write that step yourself; you may "
                              "still use the library outside your function, to test it.")


@pytest.mark.parametrize(("body", "named"), [
    ("torch.conv2d(x, weight)", "torch.conv2d"),
    ("nn.Conv2d(1, 1, 3)", "torch.nn.Conv2d"),
    ("x.unfold(2, 3, 1)", "torch.Tensor.unfold"),
    ("F.unfold(x, 3)", "torch.nn.functional.unfold"),
    ("my_conv(x, weight)", "my_conv (that is torch.nn.functional.conv2d)"),
])
def test_every_route_to_a_forbidden_function_is_trapped(body, named):
    student = notebook("from torch.nn.functional import conv2d as my_conv\n"
                       f"def student(x, weight):\n    return {body}\n")
    with pytest.raises(AssertionError, match=re.escape(f"it called {named}.")):
        run_guarded(student)


def test_a_forbidden_call_cannot_be_swallowed():
    student = notebook("def student(x, weight):\n    try:\n        F.conv2d(x, weight)\n"
                       "    except BaseException:\n        pass\n    return x\n")
    with pytest.raises(AssertionError, match="it called torch.nn.functional.conv2d"):
        run_guarded(student)
    assert F.conv2d(X, W).shape == (1, 1, 3, 3)  # put back afterwards


def test_a_call_of_the_reference_inside_is_refused():
    student = notebook("from cnncourse.ops import conv2d_im2col as helper\n"
                       "def student(x, weight):\n    return helper(x, weight)\n")
    with pytest.raises(AssertionError) as err:
        run_guarded(student)
    assert str(err.value).startswith("conv2d_loops must be your own code: it called the "
                                     "course's reference helper (that is cnncourse.ops.")


@pytest.mark.parametrize("error", [NotImplementedError, TypeError, IndexError, AssertionError])
def test_student_exceptions_surface_with_the_call_named(error):
    student = notebook(f"def student(x, weight):\n    raise {error.__name__}('something inside')\n")
    with pytest.raises(AssertionError) as err:
        run_guarded(student)
    assert str(err.value).startswith(
        f"conv2d_loops(x (1, 1, 5, 5), weight (1, 1, 3, 3)) raised {error.__name__}: "
        "something inside")


def test_the_line_that_raised_is_named():
    student = notebook("def student(x, weight):\n    y = x\n    return y[9]\n")
    with pytest.raises(AssertionError, match=r"raised IndexError: .* \(at line 3 of student\)"):
        run_guarded(student)


def test_the_unedited_stub_gets_told_what_to_do():
    student = notebook("def student(x, weight):\n    raise NotImplementedError()\n")
    with pytest.raises(AssertionError) as err:
        run_guarded(student)
    assert str(err.value) == (
        "conv2d_loops(x (1, 1, 5, 5), weight (1, 1, 3, 3)) raised NotImplementedError Hint: "
        "replace the `raise NotImplementedError()` line in the solution cell with your code, "
        "then run that cell again.")


def test_an_import_of_the_courses_code_is_named_as_the_reference():
    student = notebook("def student(x, weight):\n    import cnncourse.not_in_the_sandbox\n")
    with pytest.raises(AssertionError, match="must be your own code: it imports "
                                             "cnncourse.not_in_the_sandbox, the course's"):
        run_guarded(student)


def test_warnings_never_fail_a_student_call():
    def noisy(x, weight):
        warnings.warn("deprecated thing", UserWarning, stacklevel=1)
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(run_guarded(noisy), X)


def test_the_guard_is_a_context_manager_too():
    answer = answer_of(lambda x, weight: x, "conv2d_loops")
    with Guard(answer, "conv2d_loops", forbidden=CONV) as guard:
        assert torch.equal(guard.call(CALL), X)
    assert guard.spec == {"forbidden": list(CONV), "references": []}


# --------------------------------------------------------------------------- modules
def small_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, bias=False), nn.BatchNorm2d(2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def test_check_module_takes_the_students_module_and_refuses_the_rest():
    net = local_remote(small_net())
    assert check_module(net, "make_net()") is net
    with pytest.raises(AssertionError, match=r"make_net\(\): expected the result to be an "
                                             r"nn.Module, got int 3"):
        check_module(3, "make_net()")
    with pytest.raises(AssertionError, match="make_net must be your own code"):
        check_module(local_remote(ScaledTanh()), "make_net()",
                     references=["cnncourse.models.lenet"])


def test_layers_of_reads_the_module_layer_by_layer():
    layers = layers_of(local_remote(small_net()))
    assert [layer.name for layer in layers] == ["", "0", "1", "2", "3", "4"]
    conv, bn, fc = layers[1], layers[2], layers[5]
    assert conv.is_a("Conv2d") and not conv.is_a("Linear")
    assert conv.attr("stride") == (2, 2) and conv.attr("bias") is False
    assert conv.param("weight") == (2, 1, 3, 3) and conv.param("bias") is None
    assert [b[0] for b in bn.buffers] == ["running_mean", "running_var", "num_batches_tracked"]
    assert fc.param("weight") == (3, 8) and fc.training
    assert layers[0].children == ("0", "1", "2", "3", "4")


def test_run_module_runs_it_and_names_the_inputs_of_a_crash():
    net = small_net().eval()
    x = torch.randn(2, 1, 5, 5)
    out = run_module(local_remote(net), [x], "net", None)
    assert torch.allclose(out, net(x))
    with pytest.raises(AssertionError, match=r"net: running it on x \(2, 1, 4, 4\) raised "
                                             r"RuntimeError"):
        run_module(local_remote(net), [torch.randn(2, 1, 4, 4)], "net", None)


def test_value_of_turns_answers_into_values_or_messages():
    assert value_of({"ok": 3}, "f") == 3
    with pytest.raises(AssertionError, match="f: it raised KeyError: 'x'"):
        value_of({"raised": {"type": "KeyError", "message": "'x'"}}, "f")
    with pytest.raises(AssertionError, match="f: it called torch.conv2d, which this part does"):
        value_of({"violation": {"label": "torch.conv2d"}}, "f")


def test_a_fixture_is_made_next_to_the_answer_and_parameters_counted():
    answer = local_remote(small_net())
    made = made_near(answer, fixtures.module_spec(nn.Sequential(nn.Linear(3, 3), nn.ReLU())))
    assert isinstance(made, Remote) and made.channel is answer.channel
    assert made.is_module and parameter_count(made) == 12
    assert parameter_count(answer) == sum(p.numel() for p in small_net().parameters())
    shared = nn.Linear(3, 3)
    assert parameter_count(local_remote(nn.Sequential(shared, nn.ReLU(), shared))) == 12


# --------------------------------------------------------------------------- hidden cases
def test_hidden_draws_come_from_the_seed_and_are_put_back():
    with hidden_draws("secret:part_test_hidden:check_x"):
        first = [hidden_rng().random() for _ in range(3)]
        with hidden_draws("another"):
            inner = hidden_rng().random()
        after = hidden_rng().random()
    with hidden_draws("secret:part_test_hidden:check_x"):
        again = [hidden_rng().random() for _ in range(4)]
    expected = random.Random("secret:part_test_hidden:check_x")
    assert first + [after] == again == [expected.random() for _ in range(4)]
    assert inner == random.Random("another").random()


def test_outside_the_grader_each_self_check_draws_afresh():
    assert hidden_rng() is not hidden_rng()
    assert len({hidden_rng().random() for _ in range(5)}) == 5
    assert all(1 <= _core.seed_from(random.Random(i)) < 2**31 for i in range(20))


def test_private_generators_leave_the_global_seed_alone():
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    a, b = _core.randn((2, 2), 7), _core.randn((2, 2), 7)
    assert torch.equal(a, b) and torch.equal(torch.rand(1), expected)
