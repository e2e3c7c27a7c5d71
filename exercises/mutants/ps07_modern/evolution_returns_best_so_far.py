# mutant: returns the best cell found so far after each evaluation instead of the history
# replaces: regularized_evolution_solution
# loses: regularized_evolution_test, regularized_evolution_test_hidden
# message: not the best cell so far
def regularized_evolution(accuracy, population_size, sample_size, budget, seed):
    """The indices of the cells regularised evolution evaluates, in the order evaluated."""
    rng = np.random.default_rng(seed)

    def index(cell):
        i = 0
        for op in cell:
            i = 3 * i + op
        return i

    population = []  # (cell, accuracy) pairs, the oldest first
    history = []

    def evaluate(cell):
        population.append((cell, accuracy[index(cell)]))
        history.append(index(cell))

    for _ in range(population_size):
        evaluate([int(rng.integers(3)) for _ in range(6)])
    while len(history) < budget:
        positions = rng.integers(len(population), size=sample_size)
        parent, _ = max((population[p] for p in positions), key=lambda member: member[1])
        child = list(parent)
        edge = int(rng.integers(6))
        child[edge] = (child[edge] + 1 + int(rng.integers(2))) % 3
        evaluate(child)
        population.pop(0)  # the oldest, not the worst
    best = []
    for i in history:
        best.append(i if not best or accuracy[i] > accuracy[best[-1]] else best[-1])
    return best
