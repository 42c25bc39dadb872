"""Packaged rule tables (data only): ``default.toml``, read via ``importlib.resources``."""
