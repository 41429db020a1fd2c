"""Request and response bodies of the REST API (docs/protocols.md §1 and §2)."""
