"""One module per dashboard; each exposes ``build() -> dict``."""
