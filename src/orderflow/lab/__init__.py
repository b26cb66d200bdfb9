"""Not the product: demo batches, sample orders, run summaries, the legacy processor, chaos
and the bench. Only ``orderflow.cli`` and the tests may import it."""
