"""Audio out: fill in or sample windows with a model, invert mels, write listening examples."""
