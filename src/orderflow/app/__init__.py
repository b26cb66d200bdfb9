"""The application layer: the order service every door uses, and the reconciliation client."""
