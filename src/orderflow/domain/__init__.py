"""Pure domain: orders, money, pricing, validation, statuses. No I/O, no Temporal."""
