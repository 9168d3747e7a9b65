"""Reading the project's Terraform files with python-hcl2, as plain Python values.

python-hcl2 keeps HCL's quotes around strings and keys and adds bookkeeping keys; :func:`load_hcl` strips
both, so that callers (the sandbox's stand-in for the module, the Terraform checks) read values as written.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import hcl2


def plain(value: Any) -> Any:
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


# python-hcl2's parser (lark) keeps state between calls: two threads parsing at once garble each other's
# result (seen: a dict default read back as a string). One parse at a time.
_PARSE_LOCK = threading.Lock()


def load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle, _PARSE_LOCK:
        loaded: dict[str, Any] = plain(hcl2.load(handle))
    return loaded


def variable_default(path: Path, name: str) -> Any:
    """The default of ``variable "<name>"`` in a variables file (None when there is none)."""
    for block in load_hcl(path).get("variable", []):
        if name in block:
            return block[name].get("default")
    return None
