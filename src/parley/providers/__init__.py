"""Voice activity detection, speech recognition, language models and speech synthesis."""
