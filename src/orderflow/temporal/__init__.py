"""Temporal plumbing: client connection and data converter, codec, sandbox runner, dev server."""
