"""The lessons, one module each: ``NAME`` (the notebook file) and ``CELLS``."""
