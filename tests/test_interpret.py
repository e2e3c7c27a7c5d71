"""Saliency maps are the input gradient of a logit; feature maps come from hooks that go away."""

import pytest
import torch
from torch import nn

from cnncourse.interpret import class_scores, feature_maps, first_conv, saliency_map


def _linear_model(seed=0, channels=3, size=4, classes=5):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, classes))


def _small_cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.Softplus(), nn.Flatten(),
                         nn.Linear(6 * 3 * 3, 4))


def test_saliency_of_a_linear_model_is_its_weight_row_max_over_channels():
    model = _linear_model()
    images = torch.randn(2, 3, 4, 4)
    got = saliency_map(model, images, 3)
    # d(logit_3)/dx = W[3], whatever the input: |W[3]| as (C, H, W), max over channels
    expected = model[1].weight[3].detach().abs().reshape(3, 4, 4).amax(0)
    assert got.shape == (2, 4, 4)
    torch.testing.assert_close(got[0], expected)
    torch.testing.assert_close(got[1], expected)


def test_saliency_uses_the_logit_not_the_softmax():
    model = _linear_model()
    images = torch.randn(1, 3, 4, 4)
    x = images.clone().requires_grad_(True)
    (softmax_grad,) = torch.autograd.grad(model(x).softmax(1)[0, 3], x)
    softmax_map = softmax_grad.abs().amax(1)
    got = saliency_map(model, images, 3)
    assert not torch.allclose(got, softmax_map, rtol=1e-3, atol=1e-6)


def test_saliency_matches_finite_differences_on_a_nonlinear_cnn():
    model = _small_cnn().double()
    torch.manual_seed(1)
    images = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    target = torch.tensor([1, 2])
    got = saliency_map(model, images, target)
    eps = 1e-6
    grad = torch.zeros_like(images)
    with torch.no_grad():
        for index in range(images[0].numel()):
            for n in range(2):
                up, down = images.clone(), images.clone()
                up[n].view(-1)[index] += eps
                down[n].view(-1)[index] -= eps
                diff = model(up)[n, target[n]] - model(down)[n, target[n]]
                grad[n].view(-1)[index] = diff / (2 * eps)
    torch.testing.assert_close(got, grad.abs().amax(1), rtol=1e-5, atol=1e-7)


def test_per_image_targets_pick_each_images_own_class():
    model = _linear_model()
    images = torch.randn(3, 3, 4, 4)
    target = torch.tensor([0, 4, 2])
    got = saliency_map(model, images, target)
    for n, k in enumerate(target.tolist()):
        torch.testing.assert_close(got[n], saliency_map(model, images[n:n + 1], k)[0])
    with pytest.raises(ValueError, match="one index per image"):
        saliency_map(model, images, torch.tensor([0, 1]))


def test_saliency_sets_eval_mode_and_leaves_parameter_grads_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(48, 3))
    model[2].weight.grad = torch.full_like(model[2].weight, 7.0)
    model.train()
    images = torch.randn(2, 3, 4, 4)
    first = saliency_map(model, images, 1)
    assert not model.training
    torch.testing.assert_close(saliency_map(model, images, 1), first)  # dropout is off
    assert torch.equal(model[2].weight.grad, torch.full_like(model[2].weight, 7.0))
    assert model[2].bias.grad is None
    assert not images.requires_grad


def test_class_scores_gathers_one_logit_per_image():
    model = _linear_model()
    images = torch.randn(2, 3, 4, 4)
    scores = class_scores(model, images, torch.tensor([1, 3]))
    logits = model(images)
    torch.testing.assert_close(scores, torch.stack([logits[0, 1], logits[1, 3]]))


def test_feature_maps_returns_each_layer_output_and_removes_its_hooks():
    model = _small_cnn()
    model.train()
    x = torch.randn(2, 3, 6, 6)
    maps = feature_maps(model, x, ["0", "3"])
    assert list(maps) == ["0", "3"]
    torch.testing.assert_close(maps["0"], model[0](x))
    assert maps["3"].shape == (2, 6, 3, 3)
    assert not maps["0"].requires_grad
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training
    labelled = feature_maps(model, x, {"first": model[0]})
    torch.testing.assert_close(labelled["first"], maps["0"])
    with pytest.raises(KeyError, match="no sub-module"):
        feature_maps(model, x, ["conv9"])


def test_first_conv_finds_the_pixel_filters():
    model = _small_cnn()
    assert first_conv(model) is model[0]
    with pytest.raises(ValueError):
        first_conv(_linear_model())
