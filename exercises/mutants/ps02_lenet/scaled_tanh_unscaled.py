# mutant: tanh without the amplitude 1.7159
# replaces: scaled_tanh_solution
# loses: scaled_tanh_test, scaled_tanh_test_hidden
# message: multiply by A = 1.7159
def scaled_tanh(x):
    """LeNet-5's activation 1.7159 * tanh(2x / 3), elementwise."""
    return torch.tanh(2.0 * x / 3.0)
