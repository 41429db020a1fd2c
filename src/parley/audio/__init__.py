"""Audio: formats, G.711 codecs, resampling, framing and WAV. Pure functions, no asyncio."""
