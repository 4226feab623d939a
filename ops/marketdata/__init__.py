"""Market data on disk: the raw recorder, its file format, importers and book replay."""
