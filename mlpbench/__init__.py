"""Support code of the benchmark's three scripts (assignment_1JAX.py, assignment_1TORCH.py,
compare_results.py): framework-neutral, one concern per module. docs/design.md is the contract."""
