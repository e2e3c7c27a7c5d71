"""cnncourse: how convolutional networks were designed.

The package behind the book and the problem sets:

- ``cnncourse.models``   reference architectures, one file per family, in a registry;
- ``cnncourse.ops``      convolution and pooling written out by hand (chapter 1);
- ``cnncourse.analysis`` conv arithmetic, receptive fields, per-layer cost tables;
- ``cnncourse.data``     the bundled MNIST subset and synthetic data for CPU experiments;
- ``cnncourse.train``    one small, seeded fit / evaluate loop;
- ``cnncourse.viz``      the course's plots;
- ``cnncourse.checks``   the checkers used by the book's self-checks and by nbgrader;
- ``cnncourse.cli``      the instructor command ``cnncourse``.
"""

__version__ = "0.1.0"
