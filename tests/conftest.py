"""Shared test set-up: a headless matplotlib backend, and torch on the laptop's two cores:
two threads, or one in each of ``make test``'s two pytest-xdist workers."""

import os

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
