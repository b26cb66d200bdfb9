"""The Temporal layer: the order workflow, its saga and its activities."""
