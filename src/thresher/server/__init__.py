"""The HTTP server: FastAPI app, auth, one router per resource."""

from thresher.server.app import create_app

__all__ = ["create_app"]
