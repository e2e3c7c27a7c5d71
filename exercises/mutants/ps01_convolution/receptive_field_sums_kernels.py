# mutant: the receptive field as the sum of the kernel sizes
# replaces: receptive_field_solution
# loses: receptive_field_test, receptive_field_test_hidden
# message: stacking layers does not add kernel sizes
def receptive_field(layers):
    """Receptive-field size (in input pixels, along one axis) after each layer of
    ``layers``, a list of (kernel, stride) or (kernel, stride, dilation). A list of ints."""
    sizes, total = [], 0
    for kernel, stride, *rest in layers:
        dilation = rest[0] if rest else 1
        total += dilation * (kernel - 1) + 1
        sizes.append(total)
    return sizes
