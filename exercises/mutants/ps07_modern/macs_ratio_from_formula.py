# mutant: returns the rule's prediction d * w**2 * r**2 instead of measuring the networks
# replaces: macs_ratio_solution
# loses: macs_ratio_test, macs_ratio_test_hidden
# message: measure the real networks with count_macs
def scaled_macs_ratio(d, w, r):
    """MACs of B0 scaled by depth d and width w at round(224 * r) pixels, over B0's at 224."""
    return d * w**2 * r**2
