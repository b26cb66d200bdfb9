"""orderflow: order processing on Temporal with a saga, real state and fault injection."""

__version__ = "0.1.0"
