"""Deepgram's Voice Agent API (PROTOCOLS.md §3): `/v1/agent/converse` and the older `/agent`."""
