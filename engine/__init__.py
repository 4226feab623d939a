"""okxmm engine package."""
