# mutant: average pooling instead of max pooling: shapes and counts right, outputs wrong
# replaces: lenet5_modern_solution
# loses: lenet5_modern_test_hidden
# message: max pooling (not average)
def lenet5_modern():
    """The modern LeNet-5 as an nn.Sequential of the 12 stages in the table above."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )
