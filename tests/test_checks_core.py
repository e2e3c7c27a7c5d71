"""The checkers' shared machinery: messages, guards against forbidden functions and against
the course's reference, and how the student's own exceptions are reported."""

from __future__ import annotations

import functools
import re
import types
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncourse import ops
from cnncourse.analysis import arithmetic
from cnncourse.analysis.arithmetic import ReceptiveField
from cnncourse.checks import _core
from cnncourse.checks._core import (
    Call,
    ForbiddenCall,
    Guard,
    check_close,
    check_int,
    check_int_list,
    check_shape,
    diagnose,
    refuse_reference,
    report_success,
)

REFS = _core.reference_objects("cnncourse.ops", "cnncourse.analysis.arithmetic")
CONV = ("torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d",
        "torch.nn.functional.unfold", "torch.Tensor.unfold")
X, W = torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3)
CALL = Call("conv2d_loops", [("x", X), ("weight", W)])


def guarded(fn, forbidden=CONV):
    return Guard(fn, "conv2d_loops", forbidden=forbidden, must="compute the convolution itself",
                 references=REFS)


def run_guarded(fn, call=CALL, forbidden=CONV):
    with guarded(fn, forbidden) as guard:
        return guard.call(call)


# --------------------------------------------------------------------------- messages
def test_call_names_tensors_by_shape_and_options_by_value():
    call = Call("conv2d_loops", [("x", torch.zeros(2, 3, 7, 7)),
                                 ("weight", torch.zeros(4, 3, 3, 3)), ("bias", None)],
                {"stride": 2, "padding": 1})
    assert str(call) == ("conv2d_loops(x (2, 3, 7, 7), weight (4, 3, 3, 3), bias=None, stride=2, "
                         "padding=1)")
    assert str(Call("conv_output_size", [(None, 32), (None, 3)], {"stride": 2})) == \
        "conv_output_size(32, 3, stride=2)"


def test_call_hands_the_student_copies_of_the_tensors():
    x = torch.ones(2, 2)

    def clobber(t):
        t.zero_()
        return t

    Call("f", [("x", x)]).run(clobber)
    assert torch.equal(x, torch.ones(2, 2))


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


def test_int_refuses_a_whole_float_with_its_own_hint():
    with pytest.raises(AssertionError) as err:
        check_int(30.0, 30, "f(32, 3)", hint="other", float_hint="use //.")
    assert str(err.value) == "f(32, 3): expected the integer 30, got 30.0 (a float). Hint: use //."
    with pytest.raises(AssertionError, match="expected 30, got 29"):
        check_int(29, 30, "f(32, 3)")
    with pytest.raises(AssertionError, match="got True"):
        check_int(True, 1, "f")
    check_int(__import__("numpy").int64(30), 30, "f")  # numpy integers are integers


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


def test_success_is_one_line(capsys):
    report_success("conv_output_size", 14)
    report_success("conv_output_size", 20, hidden=True)
    assert capsys.readouterr().out.splitlines() == [
        "\u2713 conv_output_size: 14 cases passed",
        "\u2713 conv_output_size: 20 cases passed (hidden cases included)",
    ]


# --------------------------------------------------------------------------- forbidden functions
def test_forbidden_function_fails_with_its_name():
    def cheat(x, weight):
        return F.conv2d(x, weight)

    with pytest.raises(AssertionError) as err:
        run_guarded(cheat)
    assert str(err.value).startswith("conv2d_loops must compute the convolution itself: it "
                                     "called torch.nn.functional.conv2d.")


@pytest.mark.parametrize(("body", "named"), [
    ("torch.conv2d(x, weight)", "torch.conv2d"),
    ("nn.Conv2d(1, 1, 3)", "torch.nn.Conv2d"),
    ("x.unfold(2, 3, 1)", "torch.Tensor.unfold"),
    ("F.unfold(x, 3)", "torch.nn.functional.unfold"),
    ("my_conv(x, weight)", "my_conv (that is torch.nn.functional.conv2d)"),
])
def test_every_route_to_a_forbidden_function_is_trapped(body, named):
    namespace = {"torch": torch, "nn": nn, "F": F}
    exec("from torch.nn.functional import conv2d as my_conv\n"
         f"def student(x, weight):\n    return {body}\n", namespace)
    with pytest.raises(AssertionError, match=re.escape(f"it called {named}.")):
        run_guarded(namespace["student"])


def test_forbidden_call_is_not_an_exception_the_student_can_catch_by_accident():
    assert not issubclass(ForbiddenCall, Exception)

    def swallow(x, weight):
        try:
            return F.conv2d(x, weight)
        except Exception:
            return x

    with pytest.raises(AssertionError, match="it called torch.nn.functional.conv2d"):
        run_guarded(swallow)


def test_even_a_bare_except_cannot_hide_a_forbidden_call():
    def swallow_everything(x, weight):
        try:
            F.conv2d(x, weight)
        except BaseException:  # noqa: BLE001 - what a cheating answer would do
            pass
        return x

    with pytest.raises(AssertionError, match="it called torch.nn.functional.conv2d"):
        run_guarded(swallow_everything)


def _originals():
    return (F.conv2d, torch.conv2d, nn.Conv2d.__init__, "unfold" in vars(torch.Tensor),
            ops.conv2d_loops, arithmetic.conv_output_size, ops.conv_output_size,
            ReceptiveField.__init__)


def test_everything_is_restored_after_a_forbidden_call_and_after_an_error():
    before = _originals()

    def cheat(x, weight):
        return F.conv2d(x, weight)

    def crash(x, weight):
        raise IndexError("oops")

    for fn in (cheat, crash):
        with pytest.raises(AssertionError):
            run_guarded(fn)
        assert _originals() == before
    with pytest.raises(RuntimeError), guarded(cheat):  # the checker itself failing
        raise RuntimeError("checker bug")
    assert _originals() == before
    assert torch.conv2d(X, W).shape == (1, 1, 3, 3)


def test_the_checker_may_use_forbidden_functions_between_student_calls():
    with guarded(lambda x, weight: x) as guard:
        assert guard.call(CALL) is not None
        assert F.conv2d(X, W).shape == (1, 1, 3, 3)
        assert ops.conv2d_loops(X, W).shape == (1, 1, 3, 3)
        assert nn.Conv2d(1, 1, 3) is not None


def test_student_globals_are_restored():
    namespace = {"F": F}
    exec("from torch.nn.functional import conv2d as my_conv\n"
         "def student(x, weight):\n    return my_conv(x, weight)\n", namespace)
    with pytest.raises(AssertionError):
        run_guarded(namespace["student"])
    assert namespace["my_conv"] is F.conv2d


# --------------------------------------------------------------------------- the reference
def test_the_reference_itself_is_refused():
    with pytest.raises(AssertionError) as err:
        refuse_reference(ops.conv2d_loops, "conv2d_loops", REFS)
    assert str(err.value).startswith("conv2d_loops must be your own code: it is "
                                     "cnncourse.ops.conv2d_loops.")


def test_a_partial_of_the_reference_is_refused():
    with pytest.raises(AssertionError, match="must be your own code"):
        refuse_reference(functools.partial(ops.conv2d_loops, stride=1), "conv2d_loops", REFS)


def test_a_subclass_of_a_course_class_is_refused():
    class Mine(ReceptiveField):
        pass

    with pytest.raises(AssertionError, match="it subclasses the course's"):
        refuse_reference(Mine, "receptive_field", REFS)


def test_a_copy_of_the_reference_code_is_refused():
    copied = types.FunctionType(ops.conv2d_loops.__code__, {"F": F, "torch": torch}, "mine")
    copied.__module__ = "__main__"
    with pytest.raises(AssertionError, match="runs a copy of the reference's code"):
        refuse_reference(copied, "conv2d_loops", REFS)


def test_anything_from_the_course_package_is_refused():
    def fake(x, weight):
        return x

    fake.__module__ = "cnncourse.something"
    with pytest.raises(AssertionError, match="must be your own code"):
        refuse_reference(fake, "conv2d_loops", REFS)


def test_a_reference_as_default_argument_is_refused():
    def sneaky(x, weight, conv=ops.conv2d_im2col):
        return conv(x, weight)

    with pytest.raises(AssertionError, match="as a default argument"):
        refuse_reference(sneaky, "conv2d_loops", REFS)


def test_own_code_passes_the_static_check():
    def mine(x, weight):
        return x

    refuse_reference(mine, "conv2d_loops", REFS)


def test_a_wrapper_calling_the_reference_through_its_module_is_caught_at_call_time():
    def wrapper(x, weight):
        return ops.conv2d_loops(x, weight)

    refuse_reference(wrapper, "conv2d_loops", REFS)  # nothing to see without calling it
    with pytest.raises(AssertionError) as err:
        run_guarded(wrapper)
    assert "must be your own code: it called the course's reference cnncourse.ops." \
        "conv2d_loops" in str(err.value)


def test_a_wrapper_calling_an_imported_reference_is_caught_at_call_time():
    namespace: dict = {}
    exec("from cnncourse.ops import conv2d_im2col as helper\n"
         "def student(x, weight):\n    return helper(x, weight)\n", namespace)
    with pytest.raises(AssertionError, match="it called the course's reference helper"):
        run_guarded(namespace["student"])
    assert namespace["helper"] is ops.conv2d_im2col


def test_a_reference_captured_in_a_closure_is_caught_at_call_time():
    def make():
        ref = ops.conv2d_im2col

        def student(x, weight):
            return ref(x, weight)

        return student

    student = make()
    with pytest.raises(AssertionError, match="must be your own code"):
        run_guarded(student)
    assert student.__closure__[0].cell_contents is ops.conv2d_im2col


def test_a_reference_class_instantiated_inside_is_caught():
    def student(layers):
        return [ReceptiveField(3, 1, 1.5)]

    with pytest.raises(AssertionError, match="it called the course's reference "
                                             "cnncourse.analysis.arithmetic.ReceptiveField"):
        with Guard(student, "receptive_field", references=REFS) as guard:
            guard.call(Call("receptive_field", [(None, [(3, 1)])]))
    assert ReceptiveField(3, 1, 1.5).size == 3


# --------------------------------------------------------------------------- the student's errors
@pytest.mark.parametrize("error", [NotImplementedError, TypeError, IndexError, AssertionError])
def test_student_exceptions_surface_with_the_call_named(error):
    def student(x, weight):
        raise error("something inside")

    with pytest.raises(AssertionError) as err:
        run_guarded(student)
    assert str(err.value).startswith(
        f"conv2d_loops(x (1, 1, 5, 5), weight (1, 1, 3, 3)) raised {error.__name__}: "
        "something inside")
    assert isinstance(err.value.__cause__, error)  # the student's traceback stays attached


def test_the_unedited_stub_gets_told_what_to_do():
    def stub(x, weight):
        raise NotImplementedError()

    with pytest.raises(AssertionError) as err:
        run_guarded(stub)
    assert str(err.value) == (
        "conv2d_loops(x (1, 1, 5, 5), weight (1, 1, 3, 3)) raised NotImplementedError Hint: "
        "replace the `raise NotImplementedError()` line in the solution cell with your code, "
        "then run that cell again.")


def test_warnings_never_fail_a_student_call():
    def noisy(x, weight):
        warnings.warn("deprecated thing", UserWarning, stacklevel=1)
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(run_guarded(noisy), X)


def test_a_non_function_answer_is_named():
    with pytest.raises(AssertionError, match="expected a function, got int 3"):
        _core.check_callable(3, "conv_output_size")


def test_thread_count_is_restored():
    before = torch.get_num_threads()
    with guarded(lambda x, weight: x) as guard:
        guard.call(CALL)
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
