"""Pure torch computations. Nothing here imports Jupyter; every long computation is a generator."""
