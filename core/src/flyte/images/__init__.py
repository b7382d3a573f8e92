"""Image building: the builder interface and the machinery that picks and drives a builder."""
