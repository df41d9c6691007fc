"""The GPU L-BFGS (compact form) takes the same steps as torch.optim.LBFGS, history wrap-around included."""

from __future__ import annotations

import torch

from napari_neural_style.engine.lbfgs import CompactLBFGS


def _problem(n: int = 40) -> callable:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    a = a @ a.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=g, dtype=torch.float64)
    return lambda x: 0.5 * x @ a @ x - b @ x + 0.1 * (x**4).sum()  # smooth, non-quadratic


def _run(make, f, steps: int) -> list[torch.Tensor]:
    x = torch.zeros(40, dtype=torch.float64, requires_grad=True)
    optimizer = make(x)
    path = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
        path.append(x.detach().clone())
    return path


def test_same_iterates_as_torch_lbfgs() -> None:
    f = _problem()
    theirs = _run(lambda x: torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=4, tolerance_grad=0.0,
                                              tolerance_change=0.0), f, 25)
    ours = _run(lambda x: CompactLBFGS(x, history_size=4), f, 25)
    for step, (a, b) in enumerate(zip(theirs, ours, strict=True), 1):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9, msg=f"iterates differ at step {step}")
    assert float(f(ours[-1])) < float(f(ours[0])) - 1.0  # and it did minimise


def test_skips_pairs_without_curvature() -> None:
    x = torch.zeros(3, requires_grad=True)
    optimizer = CompactLBFGS(x, history_size=3)

    def closure() -> torch.Tensor:  # linear: y = 0 every step, so no pair is ever kept
        optimizer.zero_grad()
        loss = x.sum()
        loss.backward()
        return loss

    for _ in range(4):
        optimizer.step(closure)
    assert optimizer.order == []
    assert torch.isfinite(x).all()


def test_first_step_from_a_given_gamma() -> None:
    """With ``gamma`` (e.g. from a coarser scale) the first step is −gamma·g, not torch's tiny 1/‖g‖₁ one."""
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = CompactLBFGS(x, history_size=3, gamma=0.25)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (x**2).sum()  # g = 2x
        loss.backward()
        return loss

    optimizer.step(closure)
    torch.testing.assert_close(x.detach(), torch.tensor([0.5, -1.0, 1.5], dtype=torch.float64))


def test_first_step_of_a_given_mean_move() -> None:
    """Without a curvature guess, ``first_move`` sets the first step's mean |Δx| along −g."""
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = CompactLBFGS(x, history_size=3, first_move=0.5)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (x**2).sum()  # g = 2x, mean |g| = 4
        loss.backward()
        return loss

    optimizer.step(closure)
    torch.testing.assert_close(x.detach(), torch.tensor([0.75, -1.5, 2.25], dtype=torch.float64))


def _first_step(gamma: float, max_first_move: float) -> tuple[torch.Tensor, CompactLBFGS]:
    """x = (1, −2, 3) after one step on Σx² (g = 2x, mean |g| = 4) from ``gamma``."""
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = CompactLBFGS(x, history_size=3, gamma=gamma, max_first_move=max_first_move)
    optimizer.step(lambda: (x**2).sum().backward())
    return x.detach(), optimizer


def test_a_given_gamma_moves_at_most_max_first_move() -> None:
    """A guess of gamma far too large (a short earlier run's) moves elements by ``max_first_move`` on average,
    along −g, and scales H until a first pair is kept; a guess that moves them less is used as it is."""
    x, optimizer = _first_step(1e4, 0.5)
    torch.testing.assert_close(x, torch.tensor([0.75, -1.5, 2.25], dtype=torch.float64))
    torch.testing.assert_close(optimizer.gamma, torch.tensor(0.125, dtype=torch.float64))
    x, optimizer = _first_step(0.1, 0.5)  # moves 0.4 on average
    torch.testing.assert_close(x, torch.tensor([0.8, -1.6, 2.4], dtype=torch.float64))
    torch.testing.assert_close(optimizer.gamma, torch.tensor(0.1, dtype=torch.float64))
