# mutant: subclasses the course's module instead of writing it
# replaces: inception_module_solution
# loses: inception_module_test, inception_module_test_hidden
# message: InceptionModule must be your own code
from cnncourse.models.inception import Inception


class InceptionModule(Inception):
    """GoogLeNet's inception module: four branches concatenated along the channels."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__(in_channels, (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj))
