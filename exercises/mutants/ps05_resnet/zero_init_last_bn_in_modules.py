# mutant: zeroes the last BatchNorm2d in block.modules(), the shortcut's when there is one
# replaces: zero_init_solution
# loses: zero_init_test_hidden
# message: it changed shortcut.1.weight
def zero_init_last_bn(block):
    """Zero the scale of the last BN of a residual block's branch, in place."""
    last = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
