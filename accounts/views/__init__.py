"""HTML pages of the accounts app, one module per area (urls.py maps them)."""
