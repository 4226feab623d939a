"""okxmm engine.router package."""
