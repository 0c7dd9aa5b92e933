"""The frozen result of a check (`model`), its provenance, and one renderer module per format."""
