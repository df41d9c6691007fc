"""L-BFGS in compact form (Byrd, Nocedal & Schnabel 1994) for GPUs: a few matrix products per step.

torch.optim.LBFGS's two-loop recursion launches several tiny kernels per history pair and syncs the host
on each (scalar ``alpha=``), which on a GPU costs more than the network's forward and backward. Here the
history lives in one (m, 2, n) buffer of (s, y) pairs, the small matrices SᵀY and YᵀY are kept up to date,
and H·g = γg + S·p − γY·u comes from a triangular solve and two products that each read the history once:
(g, s, y) of this step times its rows, and the coefficients times its rows (on the CPU the step is bound by
reading the history: five reads of S or Y became two of both, 9 → 7 ms a step at 512 px with 14 pairs). One
host sync a step (to skip pairs with sᵀy ≤ 1e-10, as torch does). Same iterates as torch.optim.LBFGS with
``max_iter=1`` and no line search, which is what the CPU path uses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class CompactLBFGS:
    """Minimises over one tensor ``x``; ``step(closure)`` evaluates the closure once, then moves ``x``."""

    def __init__(self, x: torch.Tensor, history_size: int = 100, lr: float = 1.0,
                 gamma: float | None = None, first_move: float | None = None,
                 max_first_move: float | None = None) -> None:
        """``gamma``: a first guess of the inverse Hessian's scale (e.g. from a coarser scale's run). With it
        the first step is −gamma·g, shortened where ``max_first_move`` is given to move elements by at most
        that much on average (a guess from a short or nearly flat run can be 1000 × too large); without it
        and without ``first_move`` torch's tiny first step min(1, 1/‖g‖₁)·g, whose curvature pair is then
        usually too small to keep (sᵀy ≤ 1e-10), so the next few steps are wasted too. ``first_move``: the
        first step is along −g, moving elements by this much on average (a scale known from the problem,
        e.g. one grey level)."""
        self.x, self.lr, self.m = x, lr, history_size
        self.gamma0, self.first_move, self.max_first_move = gamma, first_move, max_first_move
        n = x.numel()
        # rows are written before they are read (filled in order, only rows 0..k-1 used): no zero-filling,
        # which for 100 pairs of a 512-px image touched 470 MB before the first step (0.12 s)
        self.pairs = torch.empty(history_size, 2, n, device=x.device, dtype=x.dtype)  # (s, y) per row
        self.sy = torch.zeros(history_size, history_size, device=x.device, dtype=x.dtype)  # s_i · y_j
        self.yy = torch.zeros_like(self.sy)  # y_i · y_j
        self.order: list[int] = []  # buffer rows, oldest pair first
        self.gamma = torch.full((), 1.0 if gamma is None else gamma, device=x.device, dtype=x.dtype)
        self.prev_g: torch.Tensor | None = None
        self.prev_step: torch.Tensor | None = None  # the last move, t·d

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.x.grad = None

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        loss = closure()
        g = self.x.grad.detach().reshape(-1).clone()
        if self.prev_g is None and self.gamma0 is not None:
            d = -self.gamma0 * g
            t = self.lr
            if self.max_first_move is not None:
                t = (self.max_first_move / d.abs().mean().clamp_min(1e-30)).clamp(max=1.0) * self.lr
                self.gamma = self.gamma * t  # also the scale of H until a first pair is kept
        elif self.prev_g is None and self.first_move is not None:
            d = -g
            t = self.first_move / g.abs().mean().clamp_min(1e-30) * self.lr
        elif self.prev_g is None:
            d = -g
            t = (1.0 / g.abs().sum()).clamp(max=1.0) * self.lr
        else:
            y = g - self.prev_g
            ys = self._remember(self.prev_step, y)
            d = -self._hg(g, None if ys is None else (self.prev_step, y, ys))
            t = self.lr
        step = d * t
        with torch.no_grad():
            self.x.view(-1).add_(step)
        self.prev_g, self.prev_step = g, step
        return loss

    def _remember(self, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """Store the pair (s, y) in the history unless its curvature sᵀy is too small; sᵀy if it was kept."""
        ys = y.dot(s)
        if float(ys) <= 1e-10:  # the one host sync: curvature too small, keep the old pairs
            return None
        row = self.order.pop(0) if len(self.order) == self.m else len(self.order)
        self.pairs[row, 0], self.pairs[row, 1] = s, y
        self.order.append(row)
        return ys

    def _hg(self, g: torch.Tensor, new: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """The inverse-Hessian approximation times ``g``, after the ``new`` pair (s, y, sᵀy) just kept (if
        any) updates SᵀY, YᵀY and γ; small matrices in chronological order."""
        if not self.order:
            return self.gamma * g
        k = len(self.order)  # rows 0..k-1 hold pairs (filled in order, then reused): skip the empty ones
        rows = self.pairs[:k].view(2 * k, -1)  # s_0, y_0, s_1, y_1, …
        # (1 or 3, 2k), reading the history once (as rows @ vᵀ: 2-3 × slower on the CPU)
        dots = (g[None] if new is None else torch.stack([g, new[0], new[1]])) @ rows.T
        if new is not None:
            row = self.order[-1]
            self.sy[row, :k] = dots[1, 1::2]  # s_new · y_j
            self.sy[:k, row] = dots[2, 0::2]  # s_j · y_new
            self.yy[row, :k] = self.yy[:k, row] = dots[2, 1::2]
            self.gamma = new[2] / self.yy[row, row]
        idx = torch.tensor(self.order, device=g.device)
        sy, yy = self.sy[idx][:, idx], self.yy[idx][:, idx]
        r = sy.triu()
        a, b = dots[0, 0::2, None][idx], dots[0, 1::2, None][idx]
        u = torch.linalg.solve_triangular(r, a, upper=True)
        rhs = torch.diag(sy)[:, None] * u + self.gamma * (yy @ u - b)
        p = torch.linalg.solve_triangular(r.T, rhs, upper=False)
        coef = torch.zeros(k, 2, device=g.device, dtype=g.dtype)
        coef[idx, 0], coef[idx, 1] = p[:, 0], -self.gamma * u[:, 0]  # back to buffer rows
        return self.gamma * g + coef.view(-1) @ rows
