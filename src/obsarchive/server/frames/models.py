"""Models of the frames app."""
