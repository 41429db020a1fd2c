"""tts providers."""
