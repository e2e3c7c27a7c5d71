"""One module per experiment; ``ALL`` lists them in the order ``make lab`` runs them
(an experiment after the ones it reads)."""

from cnncourse.lab.experiments import (
    batchnorm,
    classic,
    degradation,
    digits,
    dropout,
    families,
    feature_reuse,
    label_smoothing,
    nas_bench,
    relu_tanh,
    roadmap,
    scaling,
    transfer,
)

ALL = (
    relu_tanh.SWEEP,
    relu_tanh.EXPERIMENT,
    dropout.EXPERIMENT,
    classic.SWEEP,
    classic.EXPERIMENT,
    batchnorm.EXPERIMENT,
    label_smoothing.EXPERIMENT,
    degradation.EXPERIMENT,
    feature_reuse.EXPERIMENT,
    transfer.SOURCE,
    transfer.EXPERIMENT,
    digits.EXPERIMENT,
    nas_bench.EXPERIMENT,
    families.EXPERIMENT,
    scaling.GRID,
    scaling.EXPERIMENT,
    roadmap.EXPERIMENT,
)
