"""okxmm gateway package."""
