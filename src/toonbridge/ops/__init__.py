"""Image operators that several parts of toonbridge share (differentiable augmentation, warps, filters)."""
