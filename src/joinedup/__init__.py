"""joinedup: connected, whole-of-government public service delivery."""

__version__ = "0.1.0"
