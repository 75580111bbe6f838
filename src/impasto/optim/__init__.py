"""The optimisation loop and the events it reports."""
