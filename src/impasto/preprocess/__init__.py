"""Size maths and pixel operations on (1, 3, H, W) tensors."""
