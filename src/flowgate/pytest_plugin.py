"""flowgate pytest plugin (being written)."""
