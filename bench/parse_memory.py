"""Peak memory of parse_mail on a 30 MB message and on a 5,000-part message (each in a fresh process).

    .venv/bin/python bench/parse_memory.py

Prints the process's peak RSS before parsing (interpreter, imports and the raw bytes) and after, for the
default [intake] limits and, for comparison, with max_message_bytes raised so the stdlib parser reads all.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, time
def hwm():
    # VmHWM, not ru_maxrss: the latter keeps the high-water mark of the parent from before exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from mailbot.core.parse_options import ParseOptions
from mailbot.parse import parse_mail
raw = open(sys.argv[1], "rb").read()
opts = ParseOptions(max_message_bytes=int(sys.argv[2]))
parse_mail(b"From: a@b.example\n\nwarm up\n", opts)
before = hwm()
t = time.perf_counter()
mail = parse_mail(raw, opts)
took = time.perf_counter() - t
after = hwm()
print(f"{before / 1024:.0f} {after / 1024:.0f} {took:.2f} {len(mail.parts)} {len(mail.text)}")
"""


def big_message() -> bytes:
    attachment = base64.encodebytes(os.urandom(16_500_000))
    text = b"A long log line that a customer pasted into the mail. " * 150_000
    return (
        b"From: Big <big@customer.example>\r\nTo: support@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + text + b"\r\n--XX\r\nContent-Type: application/octet-stream; name=dump.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment + b"\r\n--XX--\r\n"
    )


def many_parts() -> bytes:
    parts = b"".join(b"--P\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(5000))
    return b"From: Many <many@customer.example>\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=P\r\n\r\n" + parts + b"--P--\r\n"


def measure(raw: bytes, max_bytes: int) -> str:
    with tempfile.NamedTemporaryFile(suffix=".eml") as fh:
        fh.write(raw)
        fh.flush()
        out = subprocess.run([sys.executable, "-c", CHILD, fh.name, str(max_bytes)], capture_output=True, text=True, check=True, cwd=ROOT)
    before, after, took, parts, chars = out.stdout.split()
    return f"peak RSS {before} MiB before parsing, {after} MiB after ({int(after) - int(before)} MiB for parsing), {float(took):.2f} s, {parts} files, {int(chars):,} text chars"


def main() -> int:
    big = big_message()
    many = many_parts()
    default = 25 * 1024 * 1024
    print(f"30 MB message ({len(big) / 1e6:.1f} MB, default limits: read part by part): {measure(big, default)}")
    print(f"30 MB message, stdlib parser (max_message_bytes raised): {measure(big, 10**9)}")
    print(f"5,000-part message ({len(many) / 1e6:.2f} MB, default max_parts 1000): {measure(many, default)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
