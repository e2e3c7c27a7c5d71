# mutant: the right families, in the order of the table instead of cheapest first
# replaces: measured_front_solution
# loses: measured_front_test, measured_front_test_hidden
# message: not in the order of the table
def measured_front(names, errors, costs):
    """Names on the front of mean held-out accuracy against cost, cheapest first."""
    accuracy = [1 - sum(e) / len(e) for e in errors]
    front = [i for i in range(len(names))
             if not any(costs[j] <= costs[i] and accuracy[j] >= accuracy[i]
                        and (costs[j] < costs[i] or accuracy[j] > accuracy[i])
                        for j in range(len(names)))]
    return [names[i] for i in front]
