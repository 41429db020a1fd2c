"""Request and response bodies of the REST API (PROTOCOLS.md §1 and §2)."""
