"""skfairlatent: scikit-learn compatible fairness methods that act in a latent space."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
