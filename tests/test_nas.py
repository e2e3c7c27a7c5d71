"""The toy architecture search: the space, the controller's sampling, the REINFORCE update's
direction and gradient, the baseline, the reward's determinism, and both search loops."""

from __future__ import annotations

import pytest
import torch

from cnncourse.analysis import count_parameters
from cnncourse.nas import (
    ChildNet,
    ChildTrainer,
    Controller,
    MovingAverageBaseline,
    SearchSpace,
    mnist_task,
    random_search,
    reinforce_gradient,
    reinforce_loss,
    reinforce_search,
    reinforce_step,
    tiny_cnn_space,
)

SPACE = tiny_cnn_space()


def test_space_size_and_description():
    assert SPACE.size == 5832
    assert len(SPACE.decisions) == 9
    arch = (1, 2, 1, 2, 0, 0, 0, 1, 0)
    assert SPACE.describe(arch) == [{"kernel": 3, "channels": 16, "skip": True},
                                    {"kernel": 5, "channels": 4, "skip": False},
                                    {"kernel": 1, "channels": 8, "skip": False}]
    assert SPACE.label(arch) == "3x3/16+skip, 5x5/4, 1x1/8"
    with pytest.raises(ValueError, match="needs 9 choices"):
        SPACE.describe((0, 1))


def test_child_net_follows_the_description():
    arch = (1, 2, 1, 2, 0, 0, 0, 1, 0)
    net = ChildNet(SPACE, arch)
    # conv 3x3 1->16 + BN + 1x1 projection; conv 5x5 16->4 + BN; conv 1x1 4->8 + BN; FC 8->10
    expected = (9 * 16 + 32 + 16) + (25 * 16 * 4 + 8) + (4 * 8 + 16) + (8 * 10 + 10)
    assert count_parameters(net) == expected
    assert net(torch.randn(2, 1, 14, 14)).shape == (2, 10)


def test_controller_starts_uniform_and_samples_deterministically():
    controller = Controller(SPACE)
    for p, d in zip(controller.probabilities(), SPACE.decisions, strict=True):
        assert torch.allclose(p, torch.full((len(d.options),), 1 / len(d.options)))
    a = [controller.sample(torch.Generator().manual_seed(3)) for _ in range(2)]
    assert a[0] == a[1]
    g = torch.Generator().manual_seed(3)
    draws = {controller.sample(g) for _ in range(50)}
    assert len(draws) > 40  # uniform over 5,832: repeats are rare
    assert all(0 <= c < len(d.options) for arch in draws
               for c, d in zip(arch, SPACE.decisions, strict=True))


def test_sampling_follows_the_probabilities():
    space = SearchSpace(layers=1)
    controller = Controller(space)
    with torch.no_grad():
        controller.logits[0].copy_(torch.log(torch.tensor([0.7, 0.2, 0.1])))
    g = torch.Generator().manual_seed(0)
    kernels = torch.tensor([controller.sample(g)[0] for _ in range(3000)])
    freq = torch.bincount(kernels, minlength=3).float() / 3000
    assert torch.allclose(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.03)


def test_log_prob_is_the_sum_of_the_choices():
    controller = Controller(SPACE)
    with torch.no_grad():
        for logit in controller.logits:
            logit.normal_()
    arch = (0, 1, 1, 2, 2, 0, 1, 0, 1)
    expected = sum(torch.log_softmax(logit, 0)[c]
                   for logit, c in zip(controller.logits, arch, strict=True))
    assert torch.allclose(controller.log_prob(arch), expected)


def test_reinforce_gradient_is_the_score_function():
    controller = Controller(SPACE)
    archs = [(0,) * 9, (2, 2, 1, 2, 2, 1, 2, 2, 1)]
    rewards, baseline = [0.9, 0.3], 0.5
    reinforce_loss(controller, archs, rewards, baseline).backward()
    # d/dlogits of -(1/m) sum (R-b) log softmax[a] = -(1/m) sum (R-b) (onehot(a) - p)
    for k, (logit, d) in enumerate(zip(controller.logits, SPACE.decisions, strict=True)):
        p = torch.full((len(d.options),), 1 / len(d.options))
        expected = torch.zeros_like(p)
        for arch, r in zip(archs, rewards, strict=True):
            expected -= (r - baseline) * (torch.eye(len(p))[arch[k]] - p) / len(archs)
        assert torch.allclose(logit.grad, expected, atol=1e-6)
    fresh = Controller(SPACE)
    grads = reinforce_gradient(fresh, archs, rewards, baseline)
    assert all(p.grad is None for p in fresh.logits)  # the gradient is returned, not stored
    for grad, logit in zip(grads, controller.logits, strict=True):
        assert torch.allclose(grad, logit.grad, atol=1e-7)


@pytest.mark.parametrize("reward, direction", [(1.0, 1), (0.0, -1)])
def test_reinforce_step_moves_probability_with_the_advantage(reward, direction):
    controller = Controller(SPACE)
    arch = (1, 2, 0, 1, 2, 0, 1, 2, 0)
    before = controller.log_prob(arch).item()
    optimizer = torch.optim.SGD(controller.parameters(), lr=0.5)
    reinforce_step(controller, optimizer, [arch], [reward], baseline=0.5)
    after = controller.log_prob(arch).item()
    assert (after - before) * direction > 0


def test_zero_advantage_changes_nothing():
    controller = Controller(SPACE)
    optimizer = torch.optim.SGD(controller.parameters(), lr=0.5)
    reinforce_step(controller, optimizer, [(0,) * 9, (1,) * 9], [0.4, 0.4], baseline=0.4)
    assert all(torch.equal(logit, torch.zeros_like(logit)) for logit in controller.logits)


def test_moving_average_baseline():
    baseline = MovingAverageBaseline(decay=0.75)
    assert baseline.update([0.2, 0.6]) == pytest.approx(0.4)
    assert baseline.update([0.8]) == pytest.approx(0.75 * 0.4 + 0.25 * 0.8)
    with pytest.raises(ValueError):
        MovingAverageBaseline(decay=1.0)
    with pytest.raises(ValueError, match="one reward per architecture"):
        reinforce_loss(Controller(SPACE), [(0,) * 9], [0.1, 0.2], 0.0)


def test_reinforce_search_learns_a_toy_reward_and_random_search_does_not():
    def wide(arch):  # reward: the fraction of layers with 16 channels
        return sum(c == 2 for c in arch[1::3]) / 3

    learnt = reinforce_search(SPACE, wide, budget=120, seed=0)
    assert [learnt.final[i] for i in (1, 4, 7)] == [2, 2, 2]
    rand = random_search(SPACE, wide, budget=120, seed=0)
    late = slice(80, 120)
    assert (sum(learnt.rewards[late]) / 40) > (sum(rand.rewards[late]) / 40) + 0.2
    assert learnt.best_so_far == sorted(learnt.best_so_far) and len(learnt.rewards) == 120
    again = reinforce_search(SPACE, wide, budget=120, seed=0)
    assert again.archs == learnt.archs and again.rewards == learnt.rewards


@pytest.fixture
def one_thread():
    """Tiny networks train far faster on one thread on a loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_child_trainer_is_deterministic_cached_and_learns(one_thread):
    task = mnist_task(n_train=256, n_val=200)
    assert task.train_x.shape == (256, 1, 14, 14) and task.val_y.shape == (200,)
    trainer = ChildTrainer(SPACE, task, steps=15, batch_size=32)
    good, bad = (1, 2, 1, 1, 2, 1, 1, 2, 1), (0, 0, 0, 0, 0, 0, 0, 0, 0)
    r_good = trainer(good)
    assert 0.0 <= r_good <= 1.0
    assert trainer(good) == r_good and len(trainer.cache) == 1
    assert ChildTrainer(SPACE, task, steps=15, batch_size=32)(good) == r_good
    assert r_good > trainer(bad) and r_good > 0.2  # chance is 0.1
