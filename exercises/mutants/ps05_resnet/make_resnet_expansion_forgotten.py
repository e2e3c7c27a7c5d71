# mutant: the next block's input is planes, not planes * expansion
# replaces: make_resnet_solution
# loses: make_resnet_test, make_resnet_test_hidden
# message: that is the next block's in_channels
def make_resnet(block, layers, num_classes=1000):
    """A ResNet: stem, four stages of ``block`` with ``layers`` blocks each, pool, FC."""
    modules = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
               nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1)]
    channels = 64
    for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers)):
        for j in range(count):
            stride = 2 if i > 0 and j == 0 else 1
            modules.append(block(channels, planes, stride))
            channels = planes
    modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512 * block.expansion, num_classes)]
    return nn.Sequential(*modules)
