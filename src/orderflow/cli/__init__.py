"""The ``orderflow`` command (Typer): one module per command group; commands only translate."""

from orderflow.cli.app import app, main

__all__ = ["app", "main"]
