"""The policy language: YAML with locations → validated, frozen pydantic models."""
