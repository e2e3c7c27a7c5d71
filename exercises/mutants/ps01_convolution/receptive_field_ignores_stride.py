# mutant: the jump is never multiplied by the stride
# replaces: receptive_field_solution
# loses: receptive_field_test, receptive_field_test_hidden
# message: keep a jump (the product of the strides so far)
def receptive_field(layers):
    """Receptive-field size (in input pixels, along one axis) after each layer of
    ``layers``, a list of (kernel, stride) or (kernel, stride, dilation). A list of ints."""
    size, sizes = 1, []
    for kernel, stride, *rest in layers:
        dilation = rest[0] if rest else 1
        size += dilation * (kernel - 1)
        sizes.append(size)
    return sizes
