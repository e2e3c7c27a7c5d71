# mutant: global average pooling (NiN's head) instead of the 7x7 adaptive pool
# replaces: make_vgg_solution
# loses: make_vgg_test, make_vgg_test_hidden
# message: pool the features to 7x7
def make_vgg(cfg, num_classes=1000, hidden=4096):
    """A VGG network for the configuration list ``cfg`` (ints: 3x3 convs, (filters, kernel):
    kernel x kernel convs, "M": pools)."""
    layers, channels = [], 3
    for entry in cfg:
        if entry == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        filters, kernel = entry if isinstance(entry, tuple) else (entry, 3)
        layers += [nn.Conv2d(channels, filters, kernel, padding=kernel // 2),
                   nn.ReLU(inplace=True)]
        channels = filters
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(hidden, num_classes),
    )
