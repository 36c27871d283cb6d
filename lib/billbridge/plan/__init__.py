"""The plan: inputs -> rules pipeline -> plan rows, and the one plan lifecycle."""
