"""Image operators that several parts of toonbridge share: differentiable augmentation, warps, the guided filter,
colour shift and superpixels (the last three are White-box cartoonization's representations)."""
