"""VGG19 features: weight files, the network, and the extractor the losses read from."""
