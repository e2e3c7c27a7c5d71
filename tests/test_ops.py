"""The hand-written convolution and pooling agree with torch's own."""

import pytest
import torch
import torch.nn.functional as F

from cnncourse.ops import conv2d_im2col, conv2d_loops, maxpool2d_backward, maxpool2d_forward

CONV_CASES = [  # (N, C_in, H, W), (C_out, kh, kw), stride, padding
    ((1, 1, 5, 5), (1, 3, 3), 1, 0),
    ((2, 3, 9, 8), (4, 3, 2), 2, 1),
    ((2, 2, 7, 11), (3, 5, 3), 3, 2),
    ((1, 4, 6, 6), (2, 1, 1), 1, 0),
]


@pytest.mark.parametrize("conv", [conv2d_loops, conv2d_im2col])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), CONV_CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_matches_torch(conv, x_shape, w_shape, stride, padding, with_bias):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*x_shape, generator=gen, dtype=torch.float64)
    c_out, kh, kw = w_shape
    weight = torch.randn(c_out, x_shape[1], kh, kw, generator=gen, dtype=torch.float64)
    bias = torch.randn(c_out, generator=gen, dtype=torch.float64) if with_bias else None
    expected = F.conv2d(x, weight, bias, stride=stride, padding=padding)
    got = conv(x, weight, bias, stride=stride, padding=padding)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected)


def test_conv_loops_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="input channels"):
        conv2d_loops(torch.zeros(1, 3, 5, 5), torch.zeros(2, 2, 3, 3))


@pytest.mark.parametrize(("shape", "kernel", "stride"), [((2, 3, 7, 6), 3, 1), ((1, 2, 8, 8), 2, 2),
                                                         ((1, 1, 9, 7), 3, 2)])
def test_maxpool_forward_and_backward_match_autograd(shape, kernel, stride):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    expected, expected_idx = F.max_pool2d(x, kernel, stride, return_indices=True)
    out, idx = maxpool2d_forward(x.detach(), kernel, stride)
    torch.testing.assert_close(out, expected.detach())
    assert torch.equal(idx, expected_idx)

    grad_out = torch.randn(expected.shape, generator=gen, dtype=torch.float64)
    expected.backward(grad_out)
    torch.testing.assert_close(maxpool2d_backward(grad_out, idx, x.shape), x.grad)


def test_maxpool_backward_sums_overlapping_windows():
    # one dominant pixel in the middle of a 5x5 input: all nine 3x3 stride-1 windows pick it
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    out, idx = maxpool2d_forward(x, 3, 1)
    grad = maxpool2d_backward(torch.ones_like(out), idx, x.shape)
    assert grad[0, 0, 2, 2] == 9.0
    assert grad.sum() == 9.0
