"""SGDP (Heo et al., ICLR 2021, arXiv:2006.08217, Algorithm 1), vectorised across parameters."""

from __future__ import annotations

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


class SGDP(Optimizer):
    """SGD with momentum whose update of scale-invariant weights has its radial component removed.

    Per parameter, with gradient ``g_t`` (Algorithm 1 of the paper, as in the official code):

    * ``b_t = momentum b_{t-1} + (1 - dampening) g_t`` (``b_0 = 0``);
    * ``p_t = b_t``, or with ``nesterov`` ``p_t = g_t + momentum b_t``;
    * for weights with two or more dimensions, if ``|cos(w_t, g_t)| < delta / sqrt(dim)`` in the
      channel view or else in the layer view, ``q_t = Pi_{w_t}(p_t)`` and the weight decay
      is scaled by ``wd_ratio``; otherwise ``q_t = p_t``. Without Nesterov, the official code
      projects the momentum buffer itself (``p_t`` is ``b_t``), so ``b_t <- q_t``; kept here;
    * ``w_{t+1} = w_t (1 - lr * weight_decay * ratio / (1 - momentum)) - lr q_t``.

    :param params: parameters or param groups.
    :param lr: learning rate.
    :param momentum: momentum factor.
    :param dampening: dampening of the gradient in the momentum buffer.
    :param weight_decay: decoupled weight decay, divided by ``1 - momentum`` as in the official code.
    :param nesterov: Nesterov momentum.
    :param eps: added to the norms of the cosine test and the projection.
    :param delta: threshold of the cosine test, ``|cos| < delta / sqrt(dim)``.
    :param wd_ratio: weight-decay multiplier for weights found scale-invariant.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        eps: float = 1e-8,
        delta: float = 0.1,
        wd_ratio: float = 0.1,
    ) -> None:
        check_range("lr", lr)
        check_range("momentum", momentum, 0.0, 1.0)
        for name, value in (
            ("dampening", dampening),
            ("weight_decay", weight_decay),
            ("eps", eps),
            ("delta", delta),
            ("wd_ratio", wd_ratio),
        ):
            check_range(name, value)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            eps=eps,
            delta=delta,
            wd_ratio=wd_ratio,
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
                if not self.state[p]:  # same key as the official code, so state dicts interchange
                    self.state[p]["momentum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            for part in partition(params, lambda p: (p.device, p.dtype)):
                self._update(part, group)
        return loss

    def _update(self, params: list[Tensor], group: dict) -> None:
        """One SGDP step for params of one device and dtype."""
        lr, momentum, wd, nesterov = group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]
        grads = [p.grad for p in params]
        bufs = [self.state[p]["momentum"] for p in params]

        # b_t, in place.
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, grads, alpha=1 - group["dampening"])
        # p_t = g_t + momentum b_t (Nesterov) or b_t. Without Nesterov the official code projects the
        # momentum buffer itself (p_t is b_t), so the buffer is projected in place below.
        if nesterov:
            updates = torch._foreach_mul(bufs, momentum)
            torch._foreach_add_(updates, grads)
        else:
            updates = bufs

        # q_t: the radial component removed where the weight is scale-invariant.
        tested, others = split_projectable(params)
        weights = take(params, tested)
        flags = radial_projection(weights, take(updates, tested), group["delta"], group["eps"])
        if wd > 0:
            ratio = group["wd_ratio"]
            # Same expression as the official code, with wd_ratio = 1 for the plain factor.
            plain_factor, projected_factor = (
                1 - lr * wd * 1 / (1 - momentum),
                1 - lr * wd * ratio / (1 - momentum),
            )
            decay_weights(weights, flags, take(params, others), plain_factor, projected_factor)
        torch._foreach_add_(params, updates, alpha=-lr)
