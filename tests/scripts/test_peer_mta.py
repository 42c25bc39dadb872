"""The pure parts of the peer-MTA helper and of the capture script (the rest needs root and apt)."""

from __future__ import annotations

from pathlib import Path

from scripts.peer_mta.capture import DRIVERS, SCENARIOS, _stem, message
from scripts.peer_mta.prefix import merge_usr, parse_depends

APT_CACHE_DEPENDS = """\
exim4-base
  Depends: adduser
 |Depends: cron
 |Depends: <cron-daemon>
  Depends: anacron
  Depends: libc6:amd64
 |Depends: debconf
  Depends: <debconf-2.0>
  PreDepends: init-system-helpers
  Recommends: mailx
  Depends: libdb5.3
"""


def test_depends_keeps_the_first_alternative_and_skips_virtual_packages() -> None:
    """`cron | cron-daemon | anacron` gives cron; `debconf | debconf-2.0` gives debconf."""
    assert parse_depends(APT_CACHE_DEPENDS) == [
        "adduser", "cron", "libc6", "debconf", "init-system-helpers", "libdb5.3",
    ]  # fmt: skip


def test_merge_usr_moves_bin_sbin_lib_under_usr(tmp_path: Path) -> None:
    """Debian 12 has merged /usr: a package's /lib and /sbin files go to the prefix's usr/."""
    (tmp_path / "lib" / "systemd").mkdir(parents=True)
    (tmp_path / "lib" / "systemd" / "x.service").write_text("unit")
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin" / "tool").write_text("bin")
    (tmp_path / "usr" / "sbin").mkdir(parents=True)
    (tmp_path / "usr" / "sbin" / "dma").write_text("dma")
    merge_usr(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "usr/lib/systemd/x.service", "usr/sbin/dma", "usr/sbin/tool",
    ]  # fmt: skip
    assert not (tmp_path / "lib").exists()


def test_each_scenario_is_told_apart_by_its_first_recipient() -> None:
    """A returned message is filed under the scenario whose first recipient it names."""
    driver = DRIVERS["postfix"]
    for scenario in SCENARIOS:
        original = message(scenario, "postfix")
        assert _stem(original, list(SCENARIOS)) == scenario.name
        warning = b"Action: delayed\r\n" + original
        expected = f"{scenario.name}-delay-warning"
        if expected in scenario.captures(driver):
            assert _stem(warning, list(SCENARIOS)) == expected


def test_original_is_stamped_like_ours() -> None:
    """X-Acctpipe-Rcpt only on a single-recipient message, as our MTA stamps it."""
    single, multi = SCENARIOS[0], next(s for s in SCENARIOS if len(s.rcpts) > 1)
    assert b"X-Acctpipe-Rcpt: unknown.user@example.net\r\n" in message(single, "exim")
    assert b"X-Acctpipe-Rcpt" not in message(multi, "exim")
