"""Time for the runbook engine, with a scale so tests need not wait for real minutes.

Every duration the engine waits for — aws:sleep, step timeouts (timeoutSeconds and the actions' defaults:
aws:approve's seven days, aws:waitForAwsResourceProperty's hour), polling intervals and the two-minute
cancellation window — is multiplied by ``scale`` before the engine waits. Timestamps stay real wall-clock
time, and runbooks and API answers still show the unscaled values (``TimeoutSeconds: 604800``).

The scale comes from ``SANDBOX_SSM_TIME_SCALE`` (default 1) and can be changed on a running server with
``POST /_sandbox/ssm/clock {"scale": 0.01}``.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

ENV_TIME_SCALE = "SANDBOX_SSM_TIME_SCALE"


class Clock:
    """Wall-clock timestamps plus scaled durations; thread-safe."""

    def __init__(self, scale: float | None = None) -> None:
        self._lock = threading.Lock()
        self._scale = float(os.environ.get(ENV_TIME_SCALE, "1")) if scale is None else scale
        if self._scale <= 0:
            raise ValueError(f"time scale must be positive, not {self._scale}")

    @property
    def scale(self) -> float:
        with self._lock:
            return self._scale

    @scale.setter
    def scale(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"time scale must be positive, not {value}")
        with self._lock:
            self._scale = value

    def now(self) -> dt.datetime:
        """The current time, aware UTC (what timestamps in API answers show)."""
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def deadline(self, seconds: float | None) -> float | None:
        """The monotonic instant ``seconds`` (runbook time) from now, or None for no limit."""
        if seconds is None:
            return None
        return time.monotonic() + seconds * self.scale

    def real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of runbook time last on this clock."""
        return seconds * self.scale
