"""Gram matrices, the sliced-Wasserstein distance, and the style, content and total-variation losses against
explicit maths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_neural_style.engine.losses import content_loss, gram, quantile_table, sliced_loss, style_loss, tv_loss


@pytest.fixture
def feats() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).standard_normal((2, 5, 4, 6)).astype(np.float32))


def test_gram_matches_numpy(feats):
    n, c, h, w = feats.shape
    f = feats.numpy().astype(np.float64).reshape(n, c, h * w)
    expected = np.einsum("nik,njk->nij", f, f) / (c * h * w)
    np.testing.assert_allclose(gram(feats).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_gram_is_float32_symmetric_psd(feats):
    g = gram(feats.to(torch.bfloat16))
    assert g.dtype == torch.float32 and g.shape == (2, 5, 5)
    torch.testing.assert_close(g, g.transpose(1, 2))
    assert torch.linalg.eigvalsh(g.double()).min() > -1e-6


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("guided", [False, True])
def test_gram_gradient_is_autograds(feats, layout, guided):
    """The one-product backward gives what autograd gives for F Fᵀ (any upstream gradient, either layout)."""
    weight = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 5, 5)).astype(np.float32))
    guide = torch.rand(2, 1, 4, 6, generator=torch.Generator().manual_seed(2)) if guided else None
    ours = feats.clone(memory_format=layout).requires_grad_(True)
    (gram(ours, guide) * weight).sum().backward()
    plain = feats.clone().requires_grad_(True)
    f = plain if guide is None else plain * guide
    mass = 4 * 6 if guide is None else guide.square().sum(dim=(1, 2, 3)).clamp_min(1.0)[:, None, None]
    n, c = f.shape[:2]
    ((torch.bmm(f.reshape(n, c, -1), f.reshape(n, c, -1).transpose(1, 2)) / (c * mass)) * weight).sum().backward()
    torch.testing.assert_close(ours.grad, plain.grad)


def test_gram_guide_of_ones_equals_unguided(feats):
    one = feats[:1]
    torch.testing.assert_close(gram(one, torch.ones(1, 1, 4, 6)), gram(one))


def test_gram_binary_guide_is_gram_of_region(feats):
    one = feats[:1]
    guide = torch.zeros(1, 1, 4, 6)
    guide[..., :2] = 1.0
    torch.testing.assert_close(gram(one, guide), gram(one[..., :2].contiguous()))


def test_style_loss_zero_at_target_positive_elsewhere(feats):
    targets = {"a": gram(feats[:1]), "b": gram(feats[1:])}
    weights = {"a": 0.5, "b": 0.5}
    assert float(style_loss(dict(targets), targets, weights)) == 0.0
    moved = {"a": gram(feats[:1] * 1.1), "b": targets["b"]}
    assert float(style_loss(moved, targets, weights)) > 0.0


def test_style_loss_relative_and_weighted(feats):
    g, t = gram(feats[:1]), gram(feats[1:])
    base = float(style_loss({"a": g}, {"a": t}, {"a": 1.0}))
    expected = float((g - t).square().sum() / t.square().sum())
    assert base == pytest.approx(expected, rel=1e-6)
    # Features scaled by k scale Grams by k²: a relative loss does not change.
    k2 = 7.0**2
    assert float(style_loss({"a": g * k2}, {"a": t * k2}, {"a": 1.0})) == pytest.approx(base, rel=1e-5)
    assert float(style_loss({"a": g}, {"a": t}, {"a": 3.0})) == pytest.approx(3 * base, rel=1e-6)


def test_content_loss_zero_at_target_positive_elsewhere(feats):
    target = {"relu4_2": feats}
    assert float(content_loss({"relu4_2": feats.clone()}, target)) == 0.0
    assert float(content_loss({"relu4_2": feats + 0.1}, target)) > 0.0


def test_content_loss_known_value_and_scale_invariance(feats):
    target = {"x": feats}
    assert float(content_loss({"x": 2 * feats}, target)) == pytest.approx(1.0, rel=1e-6)
    other = feats.flip(-1)
    base = float(content_loss({"x": other}, target))
    assert float(content_loss({"x": other * 1000}, {"x": feats * 1000})) == pytest.approx(base, rel=1e-5)


def test_tv_loss_zero_on_constant():
    assert float(tv_loss(torch.full((1, 3, 8, 9), 0.37))) == 0.0


def test_tv_loss_on_ramps():
    x = torch.arange(9, dtype=torch.float32) * 0.1
    y = torch.arange(8, dtype=torch.float32) * 0.05
    ramp_x = x.expand(1, 3, 8, 9)
    assert float(tv_loss(ramp_x)) == pytest.approx(0.1**2, rel=1e-5)
    both = ramp_x + y[:, None].expand(1, 3, 8, 9)
    assert float(tv_loss(both)) == pytest.approx(0.1**2 + 0.05**2, rel=1e-5)


# -- sliced Wasserstein ------------------------------------------------------------------------------------------
def _sample(n: int, d: int = 6, seed: int = 3, dtype=torch.float32) -> torch.Tensor:
    """(D, n) projections: each row a differently shifted and scaled normal sample."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(d, n, generator=g) * torch.linspace(0.5, 2, d)[:, None] + torch.arange(d)[:, None]).to(dtype)


def test_sliced_zero_for_the_same_distribution_and_any_order():
    x = _sample(500)
    table = quantile_table([(x, 1.0)], 500)
    assert float(sliced_loss(x, table)) == pytest.approx(0.0, abs=1e-10)
    perm = torch.randperm(500, generator=torch.Generator().manual_seed(0))
    assert float(sliced_loss(x[:, perm], table)) == pytest.approx(0.0, abs=1e-10)  # positions permuted
    assert float(sliced_loss(x + 0.1, table)) == pytest.approx(0.01, rel=1e-4)  # a shift by 0.1: 0.1²


def test_sliced_unequal_counts_compare_distributions():
    """A sample of 300 against a table of 2000 of the same distribution: near 0; a wider one: not."""
    same, table = _sample(300, seed=1), quantile_table([(_sample(20000, seed=2), 1.0)], 2000)
    assert table.shape == (6, 2000)
    assert float(sliced_loss(same, table)) < 0.02
    assert float(sliced_loss(1.5 * same, table)) > 10 * float(sliced_loss(same, table))


def test_sliced_decreases_towards_the_target_under_optimisation():
    table = quantile_table([(_sample(400, seed=5), 1.0)], 400)
    x = _sample(250, seed=6).mul(0.3).add(2.0).requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], max_iter=1, history_size=10)
    losses = []

    def closure():
        optimizer.zero_grad()
        loss = sliced_loss(x, table)
        loss.backward()
        losses.append(float(loss.detach()))
        return loss

    for _ in range(5):
        optimizer.step(closure)
    assert losses[0] > 0.5 and all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 1e-6 * losses[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_sliced_gradient_check(weighted):
    """Small double tensors, 7 positions against a table of 11 (ties have probability 0)."""
    table = quantile_table([(_sample(11, d=3, seed=7, dtype=torch.float64), 1.0)], 11).double()
    x = _sample(7, d=3, seed=8, dtype=torch.float64).requires_grad_(True)
    w = torch.rand(7, dtype=torch.float64, generator=torch.Generator().manual_seed(9)) if weighted else None
    assert torch.autograd.gradcheck(lambda a: sliced_loss(a, table, w), (x,))


def test_sliced_masked_region_is_its_positions_alone():
    """A 0/1 mask gives the distance of the masked positions alone; the others get no gradient."""
    table = quantile_table([(_sample(300, seed=10), 1.0)], 300)
    x = _sample(200, seed=11).requires_grad_(True)
    mask = (torch.arange(200) % 3 == 0).float()
    loss = sliced_loss(x, table, mask)
    assert float(loss) == pytest.approx(float(sliced_loss(x.detach()[:, mask > 0], table)), rel=1e-5)
    loss.backward()
    assert float(x.grad[:, mask == 0].abs().max()) == 0.0 and float(x.grad[:, mask > 0].abs().max()) > 0.0
    # a soft mask weighs the positions: weights w and 2w give the same (normalised) distance
    soft = torch.rand(200, generator=torch.Generator().manual_seed(12))
    assert float(sliced_loss(x, table, 2 * soft)) == pytest.approx(float(sliced_loss(x, table, soft)), rel=1e-5)


def test_quantile_table_of_a_mixture_keeps_the_shares():
    low, high = torch.zeros(1, 100), torch.ones(1, 50)
    table = quantile_table([(low, 0.25), (high, 0.75)], 400)
    assert table.shape == (1, 400) and float(table.mean()) == pytest.approx(0.75)
    assert bool((table[:, 1:] >= table[:, :-1]).all())


def test_sliced_bf16_projections_are_sorted_in_float32():
    x = _sample(300, seed=13)
    table = quantile_table([(x, 1.0)], 300)
    loss = sliced_loss(x.to(torch.bfloat16), table)
    assert loss.dtype == torch.float32 and float(loss) < 1e-3  # only bf16's rounding of the values
