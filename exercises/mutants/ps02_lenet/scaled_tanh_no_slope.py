# mutant: the amplitude without the slope 2/3 inside the tanh
# replaces: scaled_tanh_solution
# loses: scaled_tanh_test, scaled_tanh_test_hidden
# message: scale the input by S = 2/3 inside the tanh
def scaled_tanh(x):
    """LeNet-5's activation 1.7159 * tanh(2x / 3), elementwise."""
    return 1.7159 * torch.tanh(x)
