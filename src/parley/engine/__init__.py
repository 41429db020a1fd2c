"""The conversation engine: one actor per session, transport-agnostic."""
