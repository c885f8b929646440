"""Multiclass calibration by vector scaling (Guo et al., 2017).

The boosters' raw margins ``z`` become ``softmax(w * z + b)`` with one scale and one bias
per class, fitted by maximum likelihood on a calibration window *later* than the training
window. Monotone per class, a handful of parameters (stored as JSON, no pickles), and
fast to apply on one row. A light L2 pull towards the identity keeps rare classes stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class VectorScaling:
    w: tuple[float, ...]
    b: tuple[float, ...]

    @classmethod
    def identity(cls, k: int) -> VectorScaling:
        return cls((1.0,) * k, (0.0,) * k)

    def __call__(self, margins: np.ndarray) -> np.ndarray:
        return softmax(margins * np.asarray(self.w) + np.asarray(self.b))

    def as_dict(self) -> dict[str, list[float]]:
        return {"w": list(self.w), "b": list(self.b)}


def fit_vector_scaling(margins: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> VectorScaling:
    """``y`` holds class indices 0..k-1."""
    n, k = margins.shape
    onehot = np.eye(k)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:k], theta[k:]
        p = softmax(margins * w + b)
        nll = -np.sum(onehot * np.log(np.clip(p, 1e-15, None))) / n
        g = (p - onehot) / n
        reg = l2 * (np.sum((w - 1) ** 2) + np.sum(b**2))
        grad = np.concatenate([(g * margins).sum(0) + 2 * l2 * (w - 1), g.sum(0) + 2 * l2 * b])
        return nll + reg, grad

    theta0 = np.concatenate([np.ones(k), np.zeros(k)])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return VectorScaling(tuple(map(float, res.x[:k])), tuple(map(float, res.x[k:])))
