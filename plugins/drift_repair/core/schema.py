"""JSON Schema validation of the project's YAML files, with messages that name the file and the field."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from drift_repair.core.errors import InputError


def validate_document(doc: Any, schema: Mapping[str, Any], source: str, error: type[InputError]) -> None:
    """Raise ``error(source, "<field path>: <message>")`` for the first problem (in document order)."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if problems:
        first = problems[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise error(source, f"{where}: {first.message}")


def read_yaml(path: str | Path, error: type[InputError]) -> Any:
    """A YAML file's document; a missing file or a syntax error becomes ``error`` naming the file."""
    p = Path(path)
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(p, "file not found") from None
    except yaml.YAMLError as exc:
        raise error(p, f"not valid YAML: {exc}") from None
