"""The native dialect: Parley's own voice-session WebSocket protocol (docs/protocols/native.md)."""
