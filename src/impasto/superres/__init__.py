"""Super-resolution with a perceptual loss: a small FSRCNN-style network (Dong et al. 2016)
trained against the engine's VGG19 features (Johnson, Alahi & Fei-Fei 2016, section 4) that
enlarges a picture 2x or 4x, tile by tile for large outputs, on torch or onnxruntime."""
