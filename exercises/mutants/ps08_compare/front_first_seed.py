# mutant: reads each family's first seed only
# replaces: measured_front_solution
# loses: measured_front_test, measured_front_test_hidden
# message: average each family's errors over all its seeds
def measured_front(names, errors, costs):
    """Names on the front of mean held-out accuracy against cost, cheapest first."""
    accuracy = [1 - e[0] for e in errors]
    front = [i for i in range(len(names))
             if not any(costs[j] <= costs[i] and accuracy[j] >= accuracy[i]
                        and (costs[j] < costs[i] or accuracy[j] > accuracy[i])
                        for j in range(len(names)))]
    front.sort(key=lambda i: (costs[i], i))
    return [names[i] for i in front]
