"""``orderflow bench``: throughput and latency of the order workflow against its baselines.

Kept import-light on purpose: the workflow modules of this package (``bare``, ``naive``)
are re-imported by Temporal's sandbox for every workflow run, and they pull in this
package's ``__init__`` first.
"""
