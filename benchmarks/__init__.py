"""Speed measurements of `transformer_lib` against references, run in the same process.

Run them all with ``python -m benchmarks`` (or one: ``python -m benchmarks kv_cache``); each
prints a table and writes its results as JSON to ``benchmarks/results/``. Results are ratios
measured in one run on one machine, never assertions: the tests only check that each benchmark
runs and reports what it should (``--quick`` mode).
"""
