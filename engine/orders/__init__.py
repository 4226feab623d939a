"""okxmm engine.orders package."""
