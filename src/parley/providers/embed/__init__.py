"""Text embedding providers: passages and questions as vectors, for semantic search."""
