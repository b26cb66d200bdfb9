"""The REST API (FastAPI): orders, inventory and health over the application service."""

from orderflow.api.app import create_app

__all__ = ["create_app"]
