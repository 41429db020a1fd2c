"""End-of-turn models: how likely it is that the caller has finished, from their audio."""
