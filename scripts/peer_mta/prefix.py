"""Run a Debian MTA as a peer from a private prefix, never as the system's mail transport.

The Debian MTA packages (postfix, exim4-daemon-light, dma, sendmail, opensmtpd,
courier-mta) conflict with one another: each wants to be *the* MTA. A peer MTA
here is instead downloaded with ``apt-get download`` and unpacked with
``dpkg-deb -x`` into a prefix of its own; nothing is installed and no
maintainer script runs. Its binaries keep their compiled-in paths
(``/etc/postfix``, ``/var/spool/exim4``, ``/usr/lib/postfix``…), so it runs in
a private mount namespace where ``/etc``, ``/usr`` and ``/var`` are overlays:
the prefix's files on top of the system's, writes going to the prefix's own
upper directories. Adding a user to ``/etc/passwd`` or a spool to ``/var`` in
there changes the prefix, never the host.

API::

    from scripts.peer_mta.prefix import unpack, Namespace

    prefix = unpack("postfix", ["postfix"])          # -> Prefix (cached, idempotent)
    with Namespace(prefix) as ns:                    # one mount namespace for the session
        ns.run(["postconf", "-e", "inet_interfaces = loopback-only"])
        ns.ensure_user("postfix"); ns.ensure_group("postdrop")  # in the prefix's /etc only
        ns.run(["postfix", "start"])                 # daemons stay in the namespace
        ...
        ns.run(["postfix", "stop"])
    # leaving the block kills whatever still runs in the namespace (by pid)

    run(prefix, ["postconf", "mail_version"])        # one-off: a namespace for one command

* ``unpack(name, packages, *, with_deps=True, cache=None, fresh=False) -> Prefix``
  downloads the packages (and, with ``with_deps``, the ``lib*`` packages they
  depend on that are not installed on this machine) into
  ``<cache>/<name>/debs`` and unpacks them into ``<cache>/<name>/root``. The
  cache defaults to ``$PEER_MTA_CACHE`` or ``<repo>/.cache/peer-mta`` (git-ignored).
  A prefix whose package list has not changed is reused as is; ``fresh=True``
  (or ``Prefix.reset()``) forgets the writable state of earlier runs.
* ``Namespace(prefix)`` starts a holder process in a new mount namespace with
  the overlays mounted; ``ns.run(argv, ...)`` runs a command inside it
  (``subprocess.run`` keywords pass through) and ``ns.popen(argv, ...)``
  starts one in the background; ``ns.write(path, text)`` writes a file as the
  namespace sees it (a config). ``ns.pids()`` lists every process in it;
  ``ns.ensure_user(user, group=)`` / ``ns.ensure_group(group)`` create the
  accounts maintainer scripts would have (in the prefix's /etc only).
* ``run(prefix, argv, ...)`` is ``Namespace`` for a single command.

Needs root (mount namespaces, overlayfs), ``unshare``/``nsenter`` (util-linux),
``apt-get`` and ``dpkg-deb``. Networking is the host's: point the peer at
loopback addresses only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "OVERLAID",
    "Namespace",
    "Prefix",
    "PrefixError",
    "merge_usr",
    "missing_libraries",
    "parse_depends",
    "run",
    "unpack",
]

REPO = Path(__file__).resolve().parents[2]
OVERLAID = ("etc", "usr", "var")
"""Top-level directories of the prefix laid over the system's in the namespace."""

# Merged /usr (Debian 12): /bin, /sbin and /lib are symlinks into /usr, so files
# a package still ships there are moved under the prefix's usr/ after unpacking.
_MERGED = ("bin", "sbin", "lib", "lib64")


class PrefixError(RuntimeError):
    """Downloading, unpacking or running a peer MTA failed (the message says what to do)."""


@dataclass(frozen=True)
class Prefix:
    """An unpacked set of Debian packages and the writable state of its runs."""

    name: str
    home: Path
    packages: tuple[str, ...]

    @property
    def root(self) -> Path:
        """The unpacked files (``dpkg-deb -x`` of every package)."""
        return self.home / "root"

    @property
    def state(self) -> Path:
        """Overlay upper and work directories: what runs wrote to /etc, /usr, /var."""
        return self.home / "state"

    def reset(self) -> None:
        """Forget every write of earlier runs (configs, spools, users added)."""
        shutil.rmtree(self.state, ignore_errors=True)

    def path(self, system_path: str) -> Path:
        """Where ``system_path`` (e.g. ``/etc/postfix/main.cf``) as runs left it is on the host."""
        rel = system_path.lstrip("/")
        top = rel.split("/", 1)[0]
        upper = self.state / "upper" / rel
        if top in OVERLAID and upper.exists():
            return upper
        return self.root / rel


def _cache_dir(cache: Path | None) -> Path:
    if cache is not None:
        return cache
    env = os.environ.get("PEER_MTA_CACHE")
    return Path(env) if env else REPO / ".cache" / "peer-mta"


def _check(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        last = err[-1] if err else f"exit status {proc.returncode}"
        raise PrefixError(f"{' '.join(argv[:3])}: {last}")
    return proc


def _installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", package],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.returncode == 0 and proc.stdout.strip().endswith(" installed")


def parse_depends(apt_cache_output: str) -> list[str]:
    """The first alternative of each Depends/PreDepends in ``apt-cache depends`` output.

    A line starting with ``|`` has an alternative on the next line, which is skipped;
    virtual packages (``<debconf-2.0>``) are skipped too.
    """
    deps: list[str] = []
    alternative = False
    for line in apt_cache_output.splitlines():
        kind, _, dep = line.strip().partition(": ")
        if kind.lstrip("|") not in ("Depends", "PreDepends"):
            alternative = False
            continue
        if not alternative and not dep.startswith("<"):
            deps.append(dep.split(":", 1)[0])
        alternative = kind.startswith("|")  # the next line is an alternative of this one
    return deps


def _depends(package: str) -> list[str]:
    out = _check(["apt-cache", "depends", "--no-recommends", "--no-suggests", package]).stdout
    return parse_depends(out)


def missing_libraries(packages: Iterable[str]) -> list[str]:
    """``lib*`` packages the given ones need (transitively) that this machine lacks."""
    wanted: list[str] = []
    seen = set(packages)
    todo = list(packages)
    while todo:
        for dep in _depends(todo.pop()):
            if dep in seen:
                continue
            seen.add(dep)
            if dep.startswith("lib") and not _installed(dep):
                wanted.append(dep)
                todo.append(dep)
    return sorted(wanted)


def _ensure_package_lists(packages: Sequence[str]) -> None:
    """Run ``apt-get update`` once if apt knows none of ``packages`` (a clean machine)."""
    known = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", *packages],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if known.returncode != 0:
        _check(["apt-get", "update", "-qq"])


def merge_usr(root: Path) -> None:
    """Move what the packages unpacked into ``root``/bin, sbin, lib, lib64 under ``root``/usr."""
    for top in _MERGED:
        src = root / top
        if not src.is_dir() or src.is_symlink():
            continue
        for item in sorted(src.rglob("*")):
            dest = root / "usr" / item.relative_to(root)
            if item.is_dir() and not item.is_symlink():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                item.replace(dest)
        shutil.rmtree(src)


def unpack(
    name: str,
    packages: Sequence[str],
    *,
    with_deps: bool = True,
    cache: Path | None = None,
    fresh: bool = False,
) -> Prefix:
    """Download ``packages`` (and missing libraries) and unpack them into a private prefix.

    Idempotent: a prefix already unpacked from the same package list is reused;
    ``fresh`` also discards what earlier runs wrote.
    """
    home = _cache_dir(cache) / name
    prefix = Prefix(name, home, tuple(packages))
    stamp = home / "packages.json"
    if fresh:
        prefix.reset()
    if stamp.exists() and json.loads(stamp.read_text())["requested"] == list(packages):
        return prefix
    _ensure_package_lists(packages)
    all_packages = list(packages) + (missing_libraries(packages) if with_deps else [])
    debs = home / "debs"
    shutil.rmtree(debs, ignore_errors=True)
    shutil.rmtree(prefix.root, ignore_errors=True)
    prefix.reset()
    debs.mkdir(parents=True)
    _check(["apt-get", "download", *all_packages], cwd=debs)
    prefix.root.mkdir(parents=True)
    for deb in sorted(debs.glob("*.deb")):
        _check(["dpkg-deb", "-x", str(deb), str(prefix.root)])
    merge_usr(prefix.root)
    for top in OVERLAID:
        (prefix.root / top).mkdir(exist_ok=True)
    versions = sorted(p.name for p in debs.glob("*.deb"))
    stamp.write_text(json.dumps({"requested": list(packages), "debs": versions}, indent=1))
    return prefix


def _mount_script(prefix: Prefix) -> str:
    lines = ["set -e"]
    for top in OVERLAID:
        upper = prefix.state / "upper" / top
        work = prefix.state / "work" / top
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        lower = f"{prefix.root / top}:/{top}"
        lines.append(
            f"mount -t overlay peer-{prefix.name}-{top} "
            f"-o lowerdir={lower},upperdir={upper},workdir={work} /{top}"
        )
    lines.append("echo ready")
    lines.append("exec sleep infinity")
    return "\n".join(lines)


class Namespace:
    """A private mount namespace where the prefix's /etc, /usr and /var overlay the system's."""

    def __init__(self, prefix: Prefix) -> None:
        self.prefix = prefix
        self._holder: subprocess.Popen[str] | None = None

    def __enter__(self) -> Namespace:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def start(self) -> None:
        """Create the namespace and mount the overlays (waits until they are mounted)."""
        self._holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private",
             "sh", "-c", _mount_script(self.prefix)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._holder.stdout is not None
        line = self._holder.stdout.readline()
        if line.strip() != "ready":
            self._holder.wait()
            err = self._holder.stderr.read().strip() if self._holder.stderr else ""
            raise PrefixError(f"{self.prefix.name}: cannot mount the overlays (root?): {err}")

    @property
    def pid(self) -> int:
        """The holder process; ``/proc/<pid>/ns/mnt`` is the namespace."""
        if self._holder is None:
            raise PrefixError(f"{self.prefix.name}: namespace not started")
        return self._holder.pid

    def _argv(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--target={self.pid}", "--mount", "--", *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace; output is captured as text unless redirected."""
        kwargs.setdefault("capture_output", "stdout" not in kwargs and "stderr" not in kwargs)
        kwargs.setdefault("text", True)
        proc: subprocess.CompletedProcess[str] = subprocess.run(
            self._argv(argv), check=False, **kwargs
        )
        if check and proc.returncode != 0:
            err = (proc.stderr or proc.stdout or "").strip().splitlines()
            last = err[-1] if err else f"exit status {proc.returncode}"
            raise PrefixError(f"{self.prefix.name}: {' '.join(argv)}: {last}")
        return proc

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the background inside the namespace."""
        return subprocess.Popen(self._argv(argv), **kwargs)

    def write(self, path: str, text: str) -> None:
        """Write ``text`` to ``path`` as the namespace sees it (lands in the prefix's state)."""
        self.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path], input=text)

    def ensure_group(self, group: str) -> None:
        """Create system group ``group`` in the namespace's /etc (the prefix's, not the host's)."""
        if self.run(["getent", "group", group], check=False).returncode != 0:
            self.run(["groupadd", "--system", group])

    def ensure_user(
        self, user: str, *, group: str | None = None, home: str = "/nonexistent"
    ) -> None:
        """Create system user ``user`` (primary group ``group``, else its own) in the namespace."""
        if self.run(["getent", "passwd", user], check=False).returncode == 0:
            return
        self.ensure_group(group or user)
        self.run(["useradd", "--system", "--no-create-home", "--home-dir", home,
                  "--shell", "/usr/sbin/nologin", "--gid", group or user, user])  # fmt: skip

    def pids(self) -> list[int]:
        """Every process in the namespace but the holder (daemons the peer forked)."""
        try:
            mine = Path(f"/proc/{self.pid}/ns/mnt").readlink()
        except OSError:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.pid:
                continue
            try:
                if (entry / "ns" / "mnt").readlink() == mine:
                    found.append(int(entry.name))
            except OSError:
                continue  # the process ended while we looked
        return sorted(found)

    def close(self, grace: float = 3.0) -> None:
        """Stop what still runs in the namespace (TERM, then KILL), then the holder."""
        if self._holder is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while pids and time.monotonic() < deadline:
                time.sleep(0.05)
                pids = self.pids()
            if not pids:
                break
        self._holder.kill()
        self._holder.wait()
        for stream in (self._holder.stdout, self._holder.stderr):
            if stream is not None:
                stream.close()
        self._holder = None


def run(
    prefix: Prefix, argv: Sequence[str], *, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run one command in a fresh namespace over ``prefix`` (see ``Namespace.run``)."""
    with Namespace(prefix) as ns:
        return ns.run(argv, check=check, **kwargs)
