"""Route tables, one module per resource; each handler decodes, calls the engine, encodes."""
