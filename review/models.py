"""Team review of generations (history, judging, re-use): filled in by the review feature."""
