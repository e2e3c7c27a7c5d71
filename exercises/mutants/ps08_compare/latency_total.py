# mutant: returns the total time of the timed calls instead of their median
# replaces: measure_latency_solution
# loses: measure_latency_test, measure_latency_test_hidden
# message: that is the total time of the timed calls
def measure_latency(model, x, warmup=2, repeats=5):
    """Median seconds of ``repeats`` timed calls of ``model(x)``, after ``warmup`` untimed ones."""
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
        return time.perf_counter() - start
