"""okxmm strategies package."""
