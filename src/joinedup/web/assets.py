"""Static files: GOV.UK Frontend from ``node_modules`` at ``/assets/``, ours at ``/static/``.

GOV.UK Frontend is installed by ``npm ci`` (``scripts/setup.sh``) and never copied into the
repository. Its compiled stylesheet refers to ``/assets/fonts/…`` and ``/assets/images/…``,
so ``dist/govuk/assets`` is served at ``/assets/`` with the compiled stylesheet and script
beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
_REPOSITORY = Path(__file__).resolve().parents[3]
_GOVUK_DIST = Path("node_modules") / "govuk-frontend" / "dist" / "govuk"
#: The compiled bundle, served beside the fonts and images it refers to.
BUNDLE_FILES = frozenset(
    {
        "govuk-frontend.min.css",
        "govuk-frontend.min.css.map",
        "govuk-frontend.min.js",
        "govuk-frontend.min.js.map",
    }
)


class FrontendMissing(RuntimeError):
    """GOV.UK Frontend is not installed where the web application looks for it."""


def govuk_frontend_dir() -> Path:
    """``node_modules/govuk-frontend/dist/govuk`` of the repository (or the working directory)."""
    for base in (_REPOSITORY, Path.cwd()):
        candidate = base / _GOVUK_DIST
        if (candidate / "govuk-frontend.min.css").is_file():
            return candidate
    raise FrontendMissing(
        f"GOV.UK Frontend is not installed (looked for {_REPOSITORY / _GOVUK_DIST} and "
        f"{Path.cwd() / _GOVUK_DIST}): run scripts/setup.sh"
    )


class FrontendAssets(StaticFiles):
    """``dist/govuk/assets`` plus the four bundle files of ``dist/govuk``."""

    def __init__(self, root: Path) -> None:
        super().__init__(directory=root / "assets")
        self._bundle = StaticFiles(directory=root)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if os.path.normpath(path) in BUNDLE_FILES:
            return await self._bundle.get_response(path, scope)
        return await super().get_response(path, scope)
