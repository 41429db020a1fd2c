"""stt providers."""
