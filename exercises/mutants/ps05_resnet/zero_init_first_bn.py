# mutant: zeroes bn1 instead of the last BN
# replaces: zero_init_solution
# loses: zero_init_test, zero_init_test_hidden
# message: it changed bn1.weight
def zero_init_last_bn(block):
    """Zero the scale of the last BN of a residual block's branch, in place."""
    last = block.bn1
    with torch.no_grad():
        last.weight.zero_()
