"""okxmm gateway.okx package."""
