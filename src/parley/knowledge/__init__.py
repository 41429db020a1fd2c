"""Knowledge: the text of a business's documents, cut into passages an agent answers from.

Pure and synchronous (run it in a thread): sniffing a file's real type, extracting its
text, and chunking that text on sentence boundaries with overlap. Storage and search are
the store's; ingestion's scheduling is the server's.
"""
