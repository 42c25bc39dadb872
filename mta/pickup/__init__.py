"""The pickup hot folder: complete files renamed into a directory are spooled and removed.

* :mod:`~mta.pickup.watcher` — the folder watcher and its claim/spool/remove cycle;
* :mod:`~mta.pickup.format` — the file format (sans-IO): bytes in, a submission or a refusal out;
* :mod:`~mta.pickup.fs` — the file moves: which names count, claiming, setting aside.
"""
