"""okxmm ops package."""
