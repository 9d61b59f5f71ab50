"""tinytorch: a small NumPy deep-learning framework in sixteen numbered modules.

This file deliberately imports nothing: the regression chain's import guard checks that stage k
loads no module numbered above k, and an eager import here would load them all.
Import what you need from its module path (see ``tinytorch.registry``).
"""

__version__ = "0.1.0"
