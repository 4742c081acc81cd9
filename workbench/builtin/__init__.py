"""The host's default plugins, registered by module (as llm's and datasette's are): `describe`."""
