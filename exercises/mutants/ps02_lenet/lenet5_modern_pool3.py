# mutant: wrong pooling size: 3x3 windows with stride 2
# replaces: lenet5_modern_solution
# loses: lenet5_modern_test, lenet5_modern_test_hidden
# message: expected output shape (N, 6, 14, 14), got (2, 6, 13, 13)
def lenet5_modern():
    """The modern LeNet-5 as an nn.Sequential of the 12 stages in the table above."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )
