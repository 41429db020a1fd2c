"""Wire protocols: each dialect translates frames to engine commands and events to frames."""
