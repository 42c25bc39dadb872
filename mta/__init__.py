"""The embedded MTA: PowerMTA-syntax config, listeners, spool, delivery, accounting files."""

__all__: list[str] = []
