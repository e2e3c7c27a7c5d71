"""Shared test set-up: a headless matplotlib backend and two torch threads (a laptop CPU)."""

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

torch.set_num_threads(2)
