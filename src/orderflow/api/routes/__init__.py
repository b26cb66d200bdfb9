"""One router per resource: orders, inventory, health."""
