# mutant: zeroes bn2 whatever the block
# replaces: zero_init_solution
# loses: zero_init_test, zero_init_test_hidden
# message: change only bn3.weight
def zero_init_last_bn(block):
    """Zero the scale of the last BN of a residual block's branch, in place."""
    last = block.bn2
    with torch.no_grad():
        last.weight.zero_()
