"""What the tests share: made-up runs, the float64 reference, golden files, running the scripts,
and the fake trainer the controller tests run instead of the real ones."""
