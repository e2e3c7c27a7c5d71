# mutant: zeroes the shift (bias) instead of the scale (weight)
# replaces: zero_init_solution
# loses: zero_init_test, zero_init_test_hidden
# message: it changed nothing
def zero_init_last_bn(block):
    """Zero the scale of the last BN of a residual block's branch, in place."""
    last = block.bn3 if block.expansion == 4 else block.bn2
    with torch.no_grad():
        last.bias.zero_()
