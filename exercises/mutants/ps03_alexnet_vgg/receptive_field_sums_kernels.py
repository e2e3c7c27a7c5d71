# mutant: adds up the kernel sizes
# replaces: receptive_field_solution
# loses: receptive_field_test, receptive_field_test_hidden
# message: does not add kernel sizes
def receptive_field(layers):
    """(size, jump) of one unit after the last layer of a stack of conv/pool/lrn specs."""
    size, jump = 1, 1
    for layer in layers:
        if layer[0] == "conv":
            kernel, stride = layer[2], layer[3]
        elif layer[0] == "pool":
            kernel, stride = layer[1], layer[2]
        else:
            continue  # LRN looks at one position only
        size = kernel if size == 1 else size + kernel   # the new window spans kernel positions, jump apart
        jump *= stride
    return size, jump
