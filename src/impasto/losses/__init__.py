"""Loss terms (pure functions) and the weighted objective built from them."""
