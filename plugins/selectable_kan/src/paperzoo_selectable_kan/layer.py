"""S-KAN and S-ConvKAN: KAN layers whose every output node mixes several activation spaces.

Output node ``j`` of :class:`SKANLinear` computes, for each space ``s`` of its pool, the single-basis KAN
node ``y_j^s = sum_i phi^s_ij(x_i)`` and returns ``y_j = sum_s w_js y_j^s`` with selection weights
``w_j = softmax(alpha_j)`` over the spaces still active at that node (learnable logits ``alpha``,
one vector per output node). Training follows the paper's stages: train everything (full training),
then :meth:`SKANLinear.select_` keeps each node's highest-weight space(s) (selective training), and
spaces that no node uses any more are not evaluated (pruning). With one space left at a node its weight
is exactly 1 and the node is exactly that single-basis KAN node.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_selectable_kan.spaces import SPACES, KANSpace, make_space


class SKANLinear(nn.Module):
    """Selectable KAN layer ``(..., in_features) -> (..., out_features)``.

    ``in_features`` may be an ``nn.Linear`` (the layer it replaces: its sizes are taken, its weights
    are not, since a KAN edge is not a scalar weight). ``spaces``: the activation pool, any of
    ``bspline``, ``rbf``, ``chebyshev``, ``fourier``; the other arguments size the spaces.
    """

    def __init__(
        self,
        in_features: int | nn.Linear,
        out_features: int | None = None,
        *,
        spaces: tuple[str, ...] | list[str] = SPACES,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] | list[float] = (-1.0, 1.0),
        rbf_centers: int = 8,
        rbf_range: tuple[float, float] | list[float] = (-2.0, 2.0),
        chebyshev_degree: int = 7,
        fourier_frequencies: int = 4,
    ) -> None:
        super().__init__()
        if isinstance(in_features, nn.Linear):
            in_features, out_features = in_features.in_features, in_features.out_features
        if out_features is None:
            raise ValueError("out_features: got None; accepted: a positive int (or an nn.Linear first)")
        spaces = tuple(spaces)
        if not spaces or len(set(spaces)) != len(spaces) or not set(spaces) <= set(SPACES):
            raise ValueError(f"spaces: got {list(spaces)}; accepted: distinct names among {list(SPACES)}")
        options = {
            "grid_size": grid_size,
            "spline_order": spline_order,
            "grid_range": tuple(grid_range),
            "rbf_centers": rbf_centers,
            "rbf_range": tuple(rbf_range),
            "chebyshev_degree": chebyshev_degree,
            "fourier_frequencies": fourier_frequencies,
        }
        self.in_features, self.out_features, self.space_names = in_features, out_features, spaces
        self.spaces = nn.ModuleDict({s: make_space(s, in_features, out_features, options) for s in spaces})
        self.selection_logits = nn.Parameter(torch.zeros(out_features, len(spaces)))
        self.register_buffer("active", torch.ones(out_features, len(spaces), dtype=torch.bool))

    def selection_weights(self) -> torch.Tensor:
        """``(out_features, n_spaces)``: softmax of the logits over each node's active spaces (0 elsewhere)."""
        logits = self.selection_logits.masked_fill(~self.active, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def space(self, name: str) -> KANSpace:
        """The single-basis KAN layer of space ``name``."""
        return self.spaces[name]

    @torch.no_grad()
    def select_(self, top_k: int = 1) -> None:
        """Keep, at every node, the ``top_k`` active spaces of highest selection weight (the paper's
        selection stage); spaces left unused at every node are no longer evaluated (pruning)."""
        logits = self.selection_logits.masked_fill(~self.active, float("-inf"))
        keep = logits.topk(min(top_k, len(self.space_names)), dim=-1).indices
        active = torch.zeros_like(self.active).scatter_(1, keep, True)
        self.active.copy_(active & self.active)

    @torch.no_grad()
    def set_selection_(self, choice: torch.Tensor | list[int] | str) -> None:
        """Make each node use exactly one space: ``choice`` is a space name (every node) or one space
        index per node."""
        if isinstance(choice, str):
            choice = [self.space_names.index(choice)] * self.out_features
        index = torch.as_tensor(choice, device=self.active.device).long().view(-1, 1)
        self.active.copy_(torch.zeros_like(self.active).scatter_(1, index, True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        flat = x.reshape(-1, self.in_features)
        weights = self.selection_weights().to(x.dtype)
        used = self.active.any(dim=0).tolist()
        y = None
        for k, name in enumerate(self.space_names):
            if not used[k]:
                continue
            term = weights[:, k] * self.spaces[name](flat)
            y = term if y is None else y + term
        return y.reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, spaces={self.space_names}"


class SConvKAN(nn.Module):
    """S-ConvKAN: a convolution whose kernel is an S-KAN layer, ``(B, C, H, W) -> (B, out, H', W')``.

    Every ``kernel_size`` patch (``F.unfold``, channel-major like ``nn.Conv2d``) is flattened to
    ``in_channels * kh * kw`` inputs and sent through one :class:`SKANLinear` call on all patches at once;
    output sizes follow ``nn.Conv2d``. ``in_channels`` may be an ``nn.Conv2d`` (the layer it replaces:
    its channels, kernel size, stride, padding and dilation are taken, not its weights). Other keyword
    arguments go to :class:`SKANLinear`.
    """

    def __init__(
        self,
        in_channels: int | nn.Conv2d,
        out_channels: int | None = None,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        **skan: object,
    ) -> None:
        super().__init__()
        if isinstance(in_channels, nn.Conv2d):
            conv = in_channels
            if conv.groups != 1 or isinstance(conv.padding, str):
                raise ValueError("in_channels: an nn.Conv2d with groups=1 and numeric padding is accepted")
            in_channels, out_channels = conv.in_channels, conv.out_channels
            kernel_size, stride, padding, dilation = (
                conv.kernel_size,
                conv.stride,
                conv.padding,
                conv.dilation,
            )
        if out_channels is None:
            raise ValueError("out_channels: got None; accepted: a positive int (or an nn.Conv2d first)")
        pair = nn.modules.utils._pair
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = pair(kernel_size), pair(stride)
        self.padding, self.dilation = pair(padding), pair(dilation)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.kan = SKANLinear(fan_in, out_channels, **skan)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(H', W')`` of an ``(H, W)`` input, as ``nn.Conv2d`` computes them."""
        return tuple(
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, p, d, k, s in zip(
                (height, width), self.padding, self.dilation, self.kernel_size, self.stride
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        oh, ow = self.output_size(h, w)
        patches = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # (B, C*k*k, L)
        y = self.kan(patches.transpose(1, 2))  # (B, L, out)
        return y.transpose(1, 2).reshape(b, self.out_channels, oh, ow)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}"
        )
