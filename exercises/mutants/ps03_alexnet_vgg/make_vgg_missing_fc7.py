# mutant: the classifier has only two linear layers
# replaces: make_vgg_solution
# loses: make_vgg_test, make_vgg_test_hidden
# message: the classifier has three linear layers
def make_vgg(cfg, num_classes=1000, hidden=4096):
    """A VGG network for the configuration list ``cfg`` (ints: 3x3 convs, "M": pools)."""
    layers, channels = [], 3
    for entry in cfg:
        if entry == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, entry, 3, padding=1), nn.ReLU(inplace=True)]
            channels = entry
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(7),
        nn.Flatten(),
        nn.Linear(channels * 7 * 7, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(hidden, num_classes),
    )
