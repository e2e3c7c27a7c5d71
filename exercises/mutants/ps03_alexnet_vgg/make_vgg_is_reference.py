# mutant: builds the course's VGG class instead of writing the network
# replaces: make_vgg_solution
# loses: make_vgg_test, make_vgg_test_hidden
# message: make_vgg must be your own code
from cnncourse.models.vgg import VGG


def make_vgg(cfg, num_classes=1000, hidden=4096):
    """A VGG network for the configuration list ``cfg`` (ints: 3x3 convs, "M": pools)."""
    return VGG(cfg, num_classes=num_classes, hidden=hidden)
