# mutant: fully connected biases forgotten (the lecture's FC8 slip)
# replaces: layer_table_solution
# loses: layer_table_test, layer_table_test_hidden
# message: each unit also has a bias
def layer_table(layers, input_shape):
    """[(output_shape, params, macs), ...], one row per layer spec, for one example."""
    shape = tuple(input_shape)
    rows = []
    for layer in layers:
        kind = layer[0]
        params = macs = 0
        if kind == "conv":
            _, filters, kernel, stride, padding, *rest = layer
            groups = rest[0] if rest else 1
            c_in, h, w = shape
            h = (h + 2 * padding - kernel) // stride + 1
            w = (w + 2 * padding - kernel) // stride + 1
            per_output = (c_in // groups) * kernel * kernel
            params = filters * per_output + filters
            macs = filters * h * w * per_output
            shape = (filters, h, w)
        elif kind == "pool":
            _, kernel, stride = layer
            c, h, w = shape
            shape = (c, (h - kernel) // stride + 1, (w - kernel) // stride + 1)
        elif kind == "flatten":
            shape = (math.prod(shape),)
        elif kind == "fc":
            units = layer[1]
            params = shape[0] * units
            macs = shape[0] * units
            shape = (units,)
        rows.append((shape, params, macs))
    return rows
