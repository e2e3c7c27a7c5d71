# mutant: multiplies the jump by this layer's stride before using it
# replaces: receptive_field_solution
# loses: receptive_field_test, receptive_field_test_hidden
# message: widen the field with the jump of the layers BEFORE this one
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
        jump *= stride
        size += (kernel - 1) * jump   # the new window spans kernel positions, jump apart
    return size, jump
