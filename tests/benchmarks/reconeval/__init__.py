"""The reconciliation evaluation: the evaluation set (tests/benchmarks/reconset) through the real speech
backend and reconciliation, scored against the truth in four scenarios (`python -m tests.benchmarks.reconeval`)."""
