# mutant: makes the warm-up calls but times them too, so their one-off costs enter the median
# replaces: measure_latency_solution
# loses: measure_latency_test, measure_latency_test_hidden
# message: the warm-up calls must not be timed
def measure_latency(model, x, warmup=2, repeats=5):
    """Median seconds of ``repeats`` timed calls of ``model(x)``, after ``warmup`` untimed ones."""
    times = []
    with torch.no_grad():
        for _ in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)
