"""Deepgram's Voice Agent API (docs/protocols.md §3): `/v1/agent/converse`, and `/agent`."""
