"""Each plot returns a Figure with the expected panels and bars, and leaves pyplot alone."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnncourse.analysis import layer_table
from cnncourse.viz import (
    human_bytes,
    human_count,
    plot_layer_costs,
    show_feature_maps,
    show_filters,
    show_images,
)


@pytest.fixture(autouse=True)
def no_figure_left_in_pyplot():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before  # returned figures are not pyplot's to show again


def _image_count(fig):
    return sum(len(ax.images) for ax in fig.axes)


@pytest.mark.parametrize("shape", [(10, 1, 8, 8), (5, 3, 8, 8), (7, 8, 8)])
def test_show_images_one_axes_per_image(shape):
    fig = show_images(torch.rand(shape), ncols=4, title="digits")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == shape[0] == _image_count(fig)
    assert fig._suptitle.get_text() == "digits"


def test_show_images_labels_and_class_names():
    fig = show_images(np.random.rand(3, 1, 5, 5), labels=torch.tensor([2, 0, 1]),
                      class_names=["zero", "one", "two"])
    assert [ax.get_title() for ax in fig.axes] == ["two", "zero", "one"]
    fig = show_images(np.random.rand(2, 3, 5, 5), labels=["cat", "dog"])
    assert [ax.get_title() for ax in fig.axes] == ["cat", "dog"]


def test_show_images_rescales_standardised_inputs():
    x = torch.randn(4, 1, 6, 6) * 3
    fig = show_images(x)
    shown = np.stack([ax.images[0].get_array() for ax in fig.axes])
    assert shown.min() == pytest.approx(0) and shown.max() == pytest.approx(1)


def test_show_images_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        show_images(torch.rand(4, 2, 5, 5))
    with pytest.raises(ValueError, match="labels"):
        show_images(torch.rand(4, 1, 5, 5), labels=[1, 2])


def test_show_feature_maps_share_one_colour_scale():
    maps = torch.arange(6 * 4 * 4, dtype=torch.float32).reshape(6, 4, 4)
    fig = show_feature_maps(maps, ncols=3, title="conv1")
    assert len(fig.axes) == 6 + 1  # the maps and one colour bar
    limits = {ax.images[0].get_clim() for ax in fig.axes[:6]}
    assert limits == {(0.0, float(maps.max()))}
    assert len(show_feature_maps(maps[None]).axes) == 7  # a batch of one is accepted


def test_show_filters_rgb_one_image_per_filter():
    weight = nn.Conv2d(3, 12, 5).weight
    fig = show_filters(weight, ncols=6)
    assert len(fig.axes) == 12 == _image_count(fig)
    assert fig.axes[0].images[0].get_array().shape == (5, 5, 3)


def test_show_filters_other_inputs_one_kernel_per_channel():
    weight = torch.randn(4, 6, 3, 3)
    fig = show_filters(weight)
    assert _image_count(fig) == 4 * 6
    assert len(fig.axes) == 4 * 6 + 1  # plus the colour bar
    assert len(show_filters(torch.randn(100, 1, 3, 3), max_filters=10).axes) == 10 + 1


@pytest.fixture(scope="module")
def table():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(16 * 8 * 8, 10))
    return layer_table(net, (3, 16, 16))


def test_plot_layer_costs_one_panel_per_metric_one_bar_per_layer(table):
    fig = plot_layer_costs(table, title="a small net")
    assert len(fig.axes) == 3
    for ax, metric in zip(fig.axes, ("params", "macs", "activation_bytes"), strict=True):
        heights = [bar.get_height() for bar in ax.patches]
        assert heights == [getattr(row, metric) for row in table]
    labels = [t.get_text() for t in fig.axes[-1].get_xticklabels()]
    assert labels == [f"{row.name} ({row.type})" for row in table]
    assert human_count(table.total_macs) in fig.axes[1].get_title(loc="left")
    assert human_bytes(table.total_activation_bytes) in fig.axes[2].get_title(loc="left")


def test_plot_layer_costs_options(table):
    fig = plot_layer_costs(table, metrics=("macs",), log=True,
                           only=lambda r: r.type in ("Conv2d", "Linear"))
    (ax,) = fig.axes
    assert len(ax.patches) == 3 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="flops"):
        plot_layer_costs(table, metrics=("flops",))
    with pytest.raises(ValueError, match="no layers"):
        plot_layer_costs(table, only=lambda r: False)


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (999, "999"), (1_000, "1K"), (34_944, "34.9K"), (61_100_840, "61.1M"),
    (105_415_200, "105M"), (1_500_000_000, "1.5G"),
])
def test_human_count(value, text):
    assert human_count(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (512, "512 B"), (1024, "1 KiB"), (96 * 55 * 55 * 4, "1.11 MiB"), (3 * 2 ** 30, "3 GiB"),
])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


def test_plot_accuracy_vs_cost_leaves_out_unpublished_models_and_draws_the_front():
    from cnncourse.viz import plot_accuracy_vs_cost

    fig = plot_accuracy_vs_cost([1.0, 2.0, 4.0, 8.0], [60.0, float("nan"), 75.0, 70.0],
                                [5.0, 10.0, 20.0, 40.0], ["a", "b", "c", "d"],
                                xlabel="GMACs", front=[0, 2], size_legend=(5, 25))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["a", "c", "d"]  # "b" has no accuracy
    assert len(ax.collections[0].get_offsets()) == 3
    assert list(ax.collections[0].get_sizes()) == [60.0, 240.0, 480.0]  # area ~ size
    (front,) = ax.lines
    assert list(front.get_xdata()) == [1.0, 4.0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Pareto front", "5M parameters", "25M parameters"]
    assert ax.get_xscale() == "log"
    reversed_fig = plot_accuracy_vs_cost([1.0, 2.0], [60.0, 70.0], [1.0, 1.0], ["a", "b"],
                                         xlabel="images/s", reverse=True, log=False)
    left, right = reversed_fig.axes[0].get_xlim()
    assert left > right
    with pytest.raises(ValueError, match="one of each"):
        plot_accuracy_vs_cost([1.0], [60.0, 70.0], [1.0], ["a"], xlabel="x")


@pytest.mark.parametrize("channels", [1, 3])
def test_compare_filters_one_row_per_set(channels):
    from cnncourse.viz import compare_filters

    before, after = torch.randn(6, channels, 5, 5), torch.randn(6, channels, 5, 5)
    fig = compare_filters([before, after], ["initial", "trained"], title="C1")
    assert len(fig.axes) == 12 == _image_count(fig)
    assert fig.axes[0].get_ylabel() == "initial" and fig.axes[6].get_ylabel() == "trained"
    shown = fig.axes[0].images[0].get_array()
    if channels == 3:  # colour, each filter on its own scale: grey is zero
        assert shown.shape == (5, 5, 3) and 0 <= shown.min() and shown.max() <= 1
        expected = (before[0] / before[0].abs().max() + 1) / 2
        np.testing.assert_allclose(shown, expected.permute(1, 2, 0).numpy(), rtol=1e-5)
    else:  # one symmetric scale per row
        low, high = fig.axes[0].images[0].get_clim()
        assert low == pytest.approx(-high) and high == pytest.approx(before.abs().max().item())
    with pytest.raises(ValueError, match="same shape"):
        compare_filters([before, torch.randn(4, channels, 5, 5)], ["a", "b"])


def test_show_saliency_images_then_one_row_per_map():
    from cnncourse.viz import show_saliency

    images = torch.rand(4, 3, 8, 8)
    fig = show_saliency(images, [("trained", torch.rand(4, 8, 8)), ("random", torch.rand(4, 8, 8))],
                        title="saliency")
    assert len(fig.axes) == 12 == _image_count(fig)
    assert [fig.axes[4 * r].get_ylabel() for r in range(3)] == ["image", "trained", "random"]
    fig = show_saliency(torch.rand(2, 1, 8, 8), [("maps", torch.rand(2, 8, 8))])
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="one \\(H, W\\) map per image"):
        show_saliency(images, [("bad", torch.rand(4, 3, 8, 8))])
