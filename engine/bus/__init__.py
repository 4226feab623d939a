"""okxmm engine.bus package."""
