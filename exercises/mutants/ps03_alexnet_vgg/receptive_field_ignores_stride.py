# mutant: forgets that strides spread later layers out
# replaces: receptive_field_solution
# loses: receptive_field_test, receptive_field_test_hidden
# message: s times faster
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
        size += kernel - 1   # the new window spans kernel positions, jump apart
        jump *= stride
    return size, jump
