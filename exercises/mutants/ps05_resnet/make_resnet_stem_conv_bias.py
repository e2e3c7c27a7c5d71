# mutant: the stem's 7x7 conv keeps nn.Conv2d's default bias
# replaces: make_resnet_solution
# loses: make_resnet_test, make_resnet_test_hidden
# message: the stem's 7x7 conv has no bias
def make_resnet(block, layers, num_classes=1000):
    """A ResNet: stem, four stages of ``block`` with ``layers`` blocks each, pool, FC."""
    modules = [nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64),
               nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1)]
    channels = 64
    for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers)):
        for j in range(count):
            stride = 2 if i > 0 and j == 0 else 1
            modules.append(block(channels, planes, stride))
            channels = planes * block.expansion
    modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*modules)
