"""Postfix as a peer: start one from a private prefix with a given main.cf and listener.

Reused by the real-MTA capture (``scripts/peer_mta/capture.py``) and meant for the
performance work that runs Postfix as a relaying peer::

    from scripts.peer_mta import postfix
    from scripts.peer_mta.prefix import Namespace

    with Namespace(postfix.prefix()) as ns:
        postfix.start(ns, main_cf="...", listen="127.0.0.1:2600",
                      files={"/etc/postfix/transport": "example.net smtp:[127.0.0.1]:2525\\n"})
        ...                       # submit over SMTP to 127.0.0.1:2600
        postfix.stop(ns)

``start`` does what the package's maintainer scripts would have done, inside the
namespace only: the ``postfix`` user and ``postdrop`` group, the ownership of the
queue and data directories, an empty queue, master.cf from Debian's template with its
``smtp inet`` service bound to ``listen``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from scripts.peer_mta.prefix import Namespace, Prefix, unpack

__all__ = ["PACKAGES", "prefix", "start", "stop"]

PACKAGES = ("postfix",)


def prefix(*, cache: Path | None = None) -> Prefix:
    """The unpacked Postfix prefix (downloaded on first use)."""
    return unpack("postfix", list(PACKAGES), cache=cache)


def start(
    ns: Namespace, *, main_cf: str, listen: str, files: Mapping[str, str] | None = None
) -> None:
    """Configure (``main_cf`` replaces main.cf; ``files`` are written too) and start Postfix.

    ``listen`` is the ``host:port`` of the smtpd service; a Postfix left running by an
    interrupted session is stopped and its queue emptied first.
    """
    ns.ensure_user("postfix", home="/var/spool/postfix")
    ns.ensure_group("postdrop")
    ns.run(["postfix", "stop"], check=False)
    ns.run(["postsuper", "-d", "ALL"], check=False)
    ns.write("/etc/postfix/main.cf", main_cf)
    for path, text in (files or {}).items():
        ns.write(path, text)
    master = "/etc/postfix/master.cf"
    ns.run(["sh", "-c", f"cp /usr/share/postfix/master.cf.dist {master} && "
            f'sed -i "s/^smtp      inet/{listen} inet/" {master}'])  # fmt: skip
    ns.run(["postfix", "set-permissions"], check=False)
    ns.run(["chown", "-R", "postfix:postfix", "/var/lib/postfix"])
    ns.run(["postfix", "start"])


def stop(ns: Namespace) -> None:
    """Stop Postfix (a no-op when it is not running)."""
    ns.run(["postfix", "stop"], check=False)
