"""The lessons, one module each: ``NAME`` (the notebook file), ``CELLS`` and ``SOLUTION`` (its exercise's
solution, for notebooks/solutions.ipynb)."""
