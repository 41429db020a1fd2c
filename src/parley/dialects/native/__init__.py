"""The native dialect: Parley's own voice-session WebSocket protocol (PROTOCOLS.md §2)."""
