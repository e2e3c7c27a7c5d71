"""A small, real neural architecture search in the manner of Zoph and Le (2016).

- ``space``: what can be chosen (per layer: kernel size, channels, a skip connection) and the
  child network an architecture describes;
- ``controller``: a policy over those choices that samples architectures;
- ``reinforce``: the REINFORCE update with a moving-average baseline;
- ``reward``: the reward, validation accuracy after a very short training on bundled MNIST;
- ``search``: the REINFORCE search loop and random search at the same budget.
"""

from cnncourse.nas.controller import Controller
from cnncourse.nas.reinforce import (
    MovingAverageBaseline,
    reinforce_gradient,
    reinforce_loss,
    reinforce_step,
)
from cnncourse.nas.reward import ChildTrainer, mnist_task
from cnncourse.nas.search import SearchResult, random_search, reinforce_search
from cnncourse.nas.space import Architecture, ChildNet, Decision, SearchSpace, tiny_cnn_space

__all__ = [
    "Architecture",
    "ChildNet",
    "ChildTrainer",
    "Controller",
    "Decision",
    "MovingAverageBaseline",
    "SearchResult",
    "SearchSpace",
    "mnist_task",
    "random_search",
    "reinforce_gradient",
    "reinforce_loss",
    "reinforce_search",
    "reinforce_step",
    "tiny_cnn_space",
]
