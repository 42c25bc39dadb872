"""`include` reads only bounded regular files and never echoes a file that is not a config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mta.config import load_config
from mta.config.loader import MAX_FILE_BYTES, MAX_TOTAL_BYTES
from mta.errors import InvalidConfigError
from mta.node.runtime import Mta, MtaOptions

SECRET = "root:$6$Zq3rSALT$4u7dN0tF0rY0urEyes0nlyXXXXXXXXXXXXXXXXXXXXXXXX:19700:0:99999:7:::"


def _errors(path: Path) -> str:
    with pytest.raises(InvalidConfigError) as info:
        load_config(path)
    return str(info.value)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "/dev/null", "/proc/self"])
def test_include_of_a_device_or_directory_is_refused_at_once(tmp_path: Path, target: str) -> None:
    """`include /dev/zero` is refused as not a regular file, without reading it."""
    main = tmp_path / "main.conf"
    main.write_text(f"include {target}\n")
    assert f"{main}:1: cannot read include '{target}': not a regular file" in _errors(main)


def test_include_of_a_fifo_does_not_block(tmp_path: Path) -> None:
    """A named pipe with no writer is refused instead of hanging the loader."""
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)
    main = tmp_path / "main.conf"
    main.write_text("include pipe.conf\n")
    assert "not a regular file" in _errors(main)


@pytest.mark.slow
def test_oversized_files_are_refused(tmp_path: Path) -> None:
    """A config file or include over 1 MiB, or includes over 8 MiB in all, are refused."""
    big = tmp_path / "big.conf"
    big.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    main = tmp_path / "main.conf"
    main.write_text("include big.conf\n")
    assert "cannot read include" in _errors(main)
    assert "larger than 1 MiB" in _errors(big)
    part = "# padding\n" * (MAX_FILE_BYTES // 10 - 100)
    count = MAX_TOTAL_BYTES // len(part) + 1
    for n in range(count):
        (tmp_path / f"part{n:02}.inc").write_text(part)
    main.write_text("include part*.inc\n")
    assert "exceed 8 MiB" in _errors(main)


def test_a_file_that_is_not_a_config_is_not_echoed(tmp_path: Path) -> None:
    """Errors about an included /etc/shadow-like file never print a line of it."""
    shadow = tmp_path / "shadow"
    key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4"
    shadow.write_text(f"{SECRET}\n{key}\n<{SECRET}\n")
    environ = tmp_path / "environ"
    environ.write_bytes(b"PATH=/usr/bin\0API_TOKEN=s3cr3t-t0ken\0")
    main = tmp_path / "main.conf"
    main.write_text("include shadow\ninclude environ\n")
    text = _errors(main)
    assert f"{shadow}:1:" in text
    assert f"{shadow}:2:" in text
    assert "not a text file" in text
    for secret in ("$6$", "SALT", "MIIEvQ", "s3cr3t", "API_TOKEN"):
        assert secret not in text
    assert all(len(line) < 400 for line in text.splitlines())


@pytest.mark.slow
def test_reload_refuses_an_include_of_a_device_and_keeps_running(tmp_path: Path) -> None:
    """A SIGHUP reload reads includes the same bounded way: /dev/zero is refused at once."""
    main = tmp_path / "main.conf"
    main.write_text("host-name mta.example.test\n")
    mta = Mta(load_config(main), MtaOptions(tmp_path / "data", config_path=main))
    main.write_text("host-name mta.example.test\ninclude /dev/zero\n")
    with pytest.raises(InvalidConfigError, match="not a regular file"):
        mta.reload()
    assert mta.config.host_name == "mta.example.test"


def test_a_dkim_key_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    """`domain-key s,example.com,/dev/zero` is a config error, not an endless read."""
    from mta.config import parse_config_text
    from mta.delivery.signing import load_key
    from mta.errors import ConfigError

    cfg = parse_config_text("domain-key s,example.com,/dev/zero\n", "t.conf")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_key(cfg.domain_keys[0])


@pytest.mark.slow
def test_an_included_file_of_junk_costs_a_few_error_lines(tmp_path: Path) -> None:
    """`include` of a big file that is no configuration (100,000 lines of junk) is refused
    in a few lines and quickly: a reload logged one error per line (100,000 log lines,
    seconds with the MTA stopped) and check-config printed them all."""
    junk = tmp_path / "junk.txt"
    junk.write_text(":\n" * 100_000)
    main = tmp_path / "main.conf"
    main.write_text("host-name mta.example.test\n")
    mta = Mta(load_config(main), MtaOptions(tmp_path / "data", config_path=main))
    main.write_text("host-name mta.example.test\ninclude junk.txt\n")
    with pytest.raises(InvalidConfigError) as info:
        mta.reload()
    lines = str(info.value).splitlines()
    assert len(lines) <= 101
    assert "does not look like a configuration file" in str(info.value)
    assert mta.config.host_name == "mta.example.test"


@pytest.mark.slow
def test_a_config_with_very_many_errors_lists_the_first_hundred(tmp_path: Path) -> None:
    """Hundreds of errors (typos, bad values) are listed up to 100, then counted."""
    main = tmp_path / "main.conf"
    main.write_text("".join(f"max-smtp-outt {n}\n" for n in range(300)))
    lines = _errors(main).splitlines()
    assert len(lines) == 101
    assert lines[0].startswith(f"{main}:1: ")
    assert lines[-1] == f"{main}: 200 more errors not shown"
    with pytest.raises(InvalidConfigError) as info:
        load_config(main)
    assert info.value.total == 300
