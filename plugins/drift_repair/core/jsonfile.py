"""Reading JSON documents written by other tools: Terraform, AWS Config, PowerShell redirections."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from drift_repair.core.errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(data: bytes, source: str | Path) -> str:
    """Decode UTF-8 or UTF-16/32 text, honouring a byte-order mark (``terraform show -json > f`` on Windows)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            payload, used = data[len(bom) :], encoding
            break
    else:
        payload, used = data, "utf-8"
        # UTF-16 without a BOM: every other byte of ASCII JSON is NUL.
        if len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
            used = "utf-16-le"
        elif len(data) >= 4 and data[0] == 0 and data[2] == 0 and data[1] != 0:
            used = "utf-16-be"
    try:
        return payload.decode(used)
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not valid {used.upper()} text at byte {exc.start}: {exc.reason}") from None


def loads_json(text: str, source: str | Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_json(path: str | Path) -> Any:
    """Read a JSON file in any of the encodings above; errors name the file and the position."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(p, "file not found") from None
    except IsADirectoryError:
        raise InputError(p, "is a directory, expected a JSON file") from None
    except OSError as exc:
        raise InputError(p, f"cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise InputError(p, "file is empty")
    return loads_json(decode_text(data, p), p)
