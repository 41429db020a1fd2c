"""Deepgram's Voice Agent API (docs/protocols/deepgram.md): `/v1/agent/converse`, and `/agent`."""
