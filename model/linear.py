"""Ridge regression in closed form: the starting point of the network's linear skip."""

from __future__ import annotations

import numpy as np

# Penalties relative to the mean diagonal of X'X; inf is the zero map (the bare base forecast),
# so the choice on validation can never start worse than the base.
PENALTIES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, float("inf"))


class Ridge:
    """Fits y (N, K) on x (N, D) once per penalty from one Gram matrix."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        self.x_mean, self.y_mean = x64.mean(axis=0), y64.mean(axis=0)
        xc, yc = x64 - self.x_mean, y64 - self.y_mean
        self.gram = xc.T @ xc  # (D, D)
        self.cross = xc.T @ yc  # (D, K)
        self.unit = float(np.trace(self.gram)) / max(len(self.gram), 1) or 1.0

    def solve(self, penalty: float) -> tuple[np.ndarray, np.ndarray]:
        """Weight (K, D) and bias (K,) such that y ~ x @ weight.T + bias."""
        if not np.isfinite(penalty):
            return np.zeros((self.cross.shape[1], self.cross.shape[0])), np.zeros(self.cross.shape[1])
        system = self.gram + penalty * self.unit * np.eye(len(self.gram))
        weight = np.linalg.solve(system, self.cross).T
        return weight, self.y_mean - weight @ self.x_mean

    def dof(self, penalty: float) -> float:
        """Effective number of parameters: the trace of the hat matrix, plus one for the intercept."""
        if not np.isfinite(penalty):
            return 0.0
        eigen = np.clip(np.linalg.eigvalsh(self.gram), 0.0, None)
        return float((eigen / (eigen + penalty * self.unit)).sum()) + 1.0
