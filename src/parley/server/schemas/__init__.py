"""Request and response bodies of the REST API (docs/protocols/rest.md)."""
