"""The web front doors: the API, the citizen portal and the back office, in one application."""

from joinedup.web.app import create_app

__all__ = ["create_app"]
