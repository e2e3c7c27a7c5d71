# mutant: Flatten in the wrong place: before S4, then pooling the flat vector
# replaces: lenet5_modern_solution
# loses: lenet5_modern_test, lenet5_modern_test_hidden
# message: expected output shape (N, 16, 5, 5), got (2, 1600)
def lenet5_modern():
    """The modern LeNet-5 as an nn.Sequential of the 12 stages in the table above."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.Flatten(),
        nn.MaxPool1d(4),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )
