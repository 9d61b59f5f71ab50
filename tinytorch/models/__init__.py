"""Sub-package; see tinytorch.registry for what lives here."""
