# mutant: dilation ignored
# replaces: receptive_field_solution
# loses: receptive_field_test, receptive_field_test_hidden
# message: a kernel with dilation d spans d * (kernel - 1) + 1 input pixels
def receptive_field(layers):
    """Receptive-field size (in input pixels, along one axis) after each layer of
    ``layers``, a list of (kernel, stride) or (kernel, stride, dilation). A list of ints."""
    size, jump, sizes = 1, 1, []
    for kernel, stride, *_ in layers:
        size += (kernel - 1) * jump
        jump *= stride
        sizes.append(size)
    return sizes
