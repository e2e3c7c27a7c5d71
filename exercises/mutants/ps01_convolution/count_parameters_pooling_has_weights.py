# mutant: pooling layers counted as if they had a weight per window position and channel
# replaces: count_parameters_solution
# loses: count_parameters_test, count_parameters_test_hidden
# message: pool layers have no parameters
def count_parameters(layers, input_shape):
    """Parameters of each layer of ``layers`` (see the table above) for an input of shape
    ``input_shape`` = (C, H, W). Returns a list of ints, one per layer."""
    channels, height, width = input_shape
    features = channels * height * width
    counts = []
    for layer in layers:
        if layer[0] == "conv":
            _, filters, kernel, stride = layer
            counts.append(filters * kernel * kernel * channels + filters)
            channels = filters
            height, width = math.ceil(height / stride), math.ceil(width / stride)
        elif layer[0] == "pool":
            _, kernel, stride = layer
            counts.append(kernel * kernel * channels)
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
        elif layer[0] == "flatten":
            counts.append(0)
            features = channels * height * width
        else:
            counts.append(features * layer[1] + layer[1])
            features = layer[1]
    return counts
