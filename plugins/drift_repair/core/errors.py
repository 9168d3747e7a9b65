"""Errors the core raises. Each names the input it refused and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class DriftRepairError(Exception):
    """Base class for every error this project raises on purpose."""


class InputError(DriftRepairError, ValueError):
    """An input file or document cannot be used. The message names the source and the problem."""

    def __init__(self, source: str | Path, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class MappingError(InputError):
    """A mapping file under include/mappings is invalid."""


class ConfigurationError(InputError):
    """An environment file under include/environments is invalid."""
