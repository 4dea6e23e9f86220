"""AdamP (Heo et al., ICLR 2021, arXiv:2006.08217, Algorithm 2), vectorised across parameters."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from .common import (
    check_range,
    decay_weights,
    params_with_grad,
    partition,
    radial_projection,
    split_projectable,
    take,
)


class AdamP(Optimizer):
    """Adam whose update of scale-invariant weights has its radial component removed.

    Per parameter, with gradient ``g_t`` (Algorithm 2 of the paper, as in the official code):

    * ``m_t = beta1 m_{t-1} + (1 - beta1) g_t``, ``v_t = beta2 v_{t-1} + (1 - beta2) g_t^2``;
    * ``p_t = m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)``, or with ``nesterov``
      ``p_t = (beta1 m_t + (1 - beta1) g_t) / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)``;
    * for weights with two or more dimensions, if ``|cos(w_t, g_t)| < delta / sqrt(dim)`` in the
      channel view (every output channel) or else in the layer view (the whole tensor), the weight
      is scale-invariant: ``q_t = Pi_{w_t}(p_t)`` and the weight decay is scaled by
      ``wd_ratio``; otherwise ``q_t = p_t``;
    * ``w_{t+1} = w_t (1 - lr * weight_decay * ratio) - lr / (1 - beta1^t) q_t`` (decay first,
      decoupled from the gradient, applied to the weight before the step).

    :param params: parameters or param groups.
    :param lr: learning rate.
    :param betas: Adam's ``(beta1, beta2)``.
    :param eps: added to the denominator, and to the norms of the cosine test and the projection.
    :param weight_decay: decoupled weight decay (``w <- w (1 - lr * weight_decay)``).
    :param delta: threshold of the cosine test, ``|cos| < delta / sqrt(dim)``.
    :param wd_ratio: weight-decay multiplier for weights found scale-invariant.
    :param nesterov: Nesterov momentum in the numerator.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        delta: float = 0.1,
        wd_ratio: float = 0.1,
        nesterov: bool = False,
    ) -> None:
        check_range("lr", lr)
        check_range("beta1", betas[0], 0.0, 1.0)
        check_range("beta2", betas[1], 0.0, 1.0)
        for name, value in (
            ("eps", eps),
            ("weight_decay", weight_decay),
            ("delta", delta),
            ("wd_ratio", wd_ratio),
        ):
            check_range(name, value)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            delta=delta,
            wd_ratio=wd_ratio,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = params_with_grad(group)
            for p in params:
                state = self.state[p]
                if not state:  # same keys as the official code, so state dicts interchange
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
            key = lambda p: (p.device, p.dtype, self.state[p]["step"])  # noqa: E731
            for part in partition(params, key):
                self._update(part, group)
        return loss

    def _update(self, params: list[Tensor], group: dict) -> None:
        """One AdamP step for params of one device, dtype and step count."""
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        step = self.state[params[0]]["step"]
        grads = [p.grad for p in params]
        exp_avg = [self.state[p]["exp_avg"] for p in params]
        exp_avg_sq = [self.state[p]["exp_avg_sq"] for p in params]

        # m_t and v_t, in place.
        torch._foreach_mul_(exp_avg, beta1)
        torch._foreach_add_(exp_avg, grads, alpha=1 - beta1)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - beta2)

        # p_t = numerator / denominator, denominator = sqrt(v_t) / sqrt(1 - beta2^t) + eps.
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(1 - beta2**step))
        torch._foreach_add_(denom, eps)
        if group["nesterov"]:
            updates = torch._foreach_mul(exp_avg, beta1)
            torch._foreach_add_(updates, torch._foreach_mul(grads, 1 - beta1))
            torch._foreach_div_(updates, denom)
        else:  # written over the denominator (m_t is state and stays as it is)
            for m, d in zip(exp_avg, denom):
                torch.div(m, d, out=d)
            updates = denom

        # q_t: the radial component removed where the weight is scale-invariant.
        tested, others = split_projectable(params)
        weights = take(params, tested)
        flags = radial_projection(weights, take(updates, tested), group["delta"], eps)
        if wd > 0:
            decay_weights(weights, flags, take(params, others), 1 - lr * wd, 1 - lr * wd * group["wd_ratio"])
        step_size = lr / (1 - beta1**step)
        torch._foreach_add_(params, updates, alpha=-step_size)
