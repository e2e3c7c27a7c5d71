# mutant: scores each family by its best seed (its lowest error) instead of the mean
# replaces: measured_front_solution
# loses: measured_front_test, measured_front_test_hidden
# message: the mean over the seeds, not the best seed
def measured_front(names, errors, costs):
    """Names on the front of mean held-out accuracy against cost, cheapest first."""
    accuracy = [1 - min(e) for e in errors]
    front = [i for i in range(len(names))
             if not any(costs[j] <= costs[i] and accuracy[j] >= accuracy[i]
                        and (costs[j] < costs[i] or accuracy[j] > accuracy[i])
                        for j in range(len(names)))]
    front.sort(key=lambda i: (costs[i], i))
    return [names[i] for i in front]
