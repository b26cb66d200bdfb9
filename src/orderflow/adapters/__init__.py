"""The simulated outside world: payment gateway, inventory system, shipping carrier."""
