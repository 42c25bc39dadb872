"""Accounting inputs shared by the reader's tests and the bulk loader's: real-shaped files
and one file holding every way a row can go wrong."""

from __future__ import annotations

from tests._paths import DATA as TEST_DATA

__all__ = ["DATA", "MESSY", "MIXED", "UNION"]

DATA = TEST_DATA / "acct"
MIXED = (DATA / "powermta-mixed.csv").read_bytes()
UNION = (DATA / "union-header.csv").read_bytes()

MESSY = (
    b"d,1795592600,o@x,early@x,,,,,,,,,,,,,,,,,,,\n"  # before any header: 23 default fields
    + UNION
    + b"\r\n   \n"  # blank lines
    + b'b,1795592650,o@x,"q,uoted@x",,"multi\nline ""diag"""\n'
    + b"d,1795592651,o@x,short@x\n"  # wrong field count
    + b"zz,1795592652,o@x,z@x,,\r\n"  # unknown type
    + b"d,1795592653,o@x,caf\xe9@x,,\n"  # latin-1
    + b"type,timeLogged,rcpt\n"  # header mid-file
    + b"t,1795592654,after@x\n"
    + b"t,1795592655,partial@x"  # no terminator
)
