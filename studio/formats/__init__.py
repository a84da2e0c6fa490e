"""Date formats of the studio per language, over Django's (FORMAT_MODULE_PATH)."""
