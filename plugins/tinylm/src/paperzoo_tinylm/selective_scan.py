"""Mamba's selective state-space scan (Gu & Dao, 2023) in plain PyTorch, and a Mamba mixer block.

The scan follows ``mamba_ssm``'s ``selective_scan_fn`` layout: ``u, delta, z`` ``[B, D, L]``, ``A``
``[D, N]``, ``B, C`` ``[B, N, L]``, ``D`` ``[D]``. With ``delta`` (after ``delta_bias`` and an optional
softplus), per channel ``d`` and state ``n``::

    h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t        (zero-order hold for A, Euler for B)
    y_t = C_t . h_t + D u_t,   then  y_t * silu(z_t)  when z is given

``selective_scan_ref`` loops over time (the reference); ``selective_scan`` evaluates the same linear
recurrence as an associative (Hillis-Steele) scan over ``(a, b)`` pairs, ``log2 L`` vectorised steps,
optionally inside chunks whose carries are then chained. ``MambaMixer`` is the Mamba block's mixer
(in_proj, causal depthwise conv1d, x_proj to (dt, B, C), dt_proj with softplus, ``A = -exp(A_log)``,
``D``, silu gate, out_proj) with a recurrent ``step`` for decoding; ``MambaBlock`` adds the pre-norm and
the residual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperzoo_tinylm.norms import RMSNorm


def _discretise(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, delta_bias: Tensor | None, delta_softplus: bool
) -> tuple[Tensor, Tensor]:
    """``deltaA = exp(delta A)`` and ``deltaB_u = delta B u``, both ``[B, D, L, N]``."""
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    delta_a = torch.exp(delta[..., None] * A[:, None, :])
    delta_b_u = (delta * u)[..., None] * B.transpose(1, 2)[:, None, :, :]
    return delta_a, delta_b_u


def _readout(h: Tensor, u: Tensor, C: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    """``y = C . h + D u``, gated by ``silu(z)``: ``h`` ``[B, D, L, N]`` -> ``[B, D, L]``."""
    y = torch.einsum("bdln,bnl->bdl", h, C)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_last_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The selective scan as a loop over time (the reference form). Returns ``y`` ``[B, D, L]``, and the
    last state ``[B, D, N]`` when ``return_last_state``; ``initial_state`` ``[B, D, N]`` (default zeros)."""
    delta_a, delta_b_u = _discretise(u, delta, A, B, delta_bias, delta_softplus)
    h = initial_state if initial_state is not None else delta_b_u.new_zeros(delta_b_u[:, :, 0].shape)
    ys = []
    for t in range(u.shape[-1]):
        h = delta_a[:, :, t] * h + delta_b_u[:, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1) if ys else u.new_zeros(u.shape)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return (y, h) if return_last_state else y


def associative_scan(a: Tensor, b: Tensor, dim: int = -2) -> tuple[Tensor, Tensor]:
    """Inclusive scan of ``h_t = a_t h_{t-1} + b_t`` (``h_{-1} = 0``) along ``dim``, by Hillis-Steele
    doubling: ``ceil(log2 L)`` steps of the associative combine ``(a1, b1), (a2, b2) -> (a1 a2, a2 b1 + b2)``.
    Returns ``(prod_{s<=t} a_s, h_t)``."""
    a, b = a.movedim(dim, 0), b.movedim(dim, 0)
    length, k = a.shape[0], 1
    while k < length:
        b = torch.cat([b[:k], a[k:] * b[:-k] + b[k:]])
        a = torch.cat([a[:k], a[k:] * a[:-k]])
        k *= 2
    return a.movedim(0, dim), b.movedim(0, dim)


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_last_state: bool = False,
    chunk_size: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """The selective scan in parallel form: the same arguments and result as ``selective_scan_ref``.

    ``chunk_size=None`` scans the whole sequence at once (``log2 L`` steps); otherwise the sequence is cut
    into chunks scanned in parallel, and each chunk's carry (its last state) is chained into the next by
    ``h_t = P_t h_carry + h_t^local`` (``P_t`` the chunk's running product of ``deltaA``).
    """
    delta_a, delta_b_u = _discretise(u, delta, A, B, delta_bias, delta_softplus)
    batch, dim, length, n = delta_a.shape
    if initial_state is not None:  # fold h_{-1} into the first input: b_0 += a_0 h_{-1}
        delta_b_u = torch.cat(
            [delta_b_u[:, :, :1] + delta_a[:, :, :1] * initial_state[:, :, None], delta_b_u[:, :, 1:]], 2
        )
    if length == 0:
        h = delta_b_u
    elif chunk_size is None or chunk_size >= length:
        h = associative_scan(delta_a, delta_b_u, dim=2)[1]
    else:
        pad = -length % chunk_size
        if pad:  # a = 1, b = 0 past the end leaves the states unchanged
            delta_a = F.pad(delta_a, (0, 0, 0, pad), value=1.0)
            delta_b_u = F.pad(delta_b_u, (0, 0, 0, pad))
        shape = (batch, dim, (length + pad) // chunk_size, chunk_size, n)
        prod, local = associative_scan(delta_a.reshape(shape), delta_b_u.reshape(shape), dim=3)
        carries, carry = [], local.new_zeros(batch, dim, n)
        for c in range(shape[2]):
            carries.append(carry)
            carry = prod[:, :, c, -1] * carry + local[:, :, c, -1]
        h = local + prod * torch.stack(carries, 2)[:, :, :, None]
        h = h.reshape(batch, dim, length + pad, n)[:, :, :length]
    y = _readout(h, u, C, D, z)
    if not return_last_state:
        return y
    last = (
        h[:, :, -1]
        if length
        else (initial_state if initial_state is not None else h.new_zeros(batch, dim, n))
    )
    return y, last


@dataclass
class MambaState:
    """A mixer's recurrent state: the last ``d_conv - 1`` conv inputs ``[B, D_in, d_conv - 1]`` and the SSM
    state ``[B, D_in, N]``."""

    conv: Tensor
    ssm: Tensor


class MambaMixer(nn.Module):
    """Mamba's selective-SSM mixer: ``[B, L, d_model] -> [B, L, d_model]`` (no norm, no residual).

    :param d_model: model width; ``d_inner = expand * d_model``.
    :param d_state: SSM state size ``N``. :param d_conv: causal depthwise conv width.
    :param dt_rank: rank of the ``dt`` projection; ``"auto"``: ``ceil(d_model / 16)``.
    :param scan: ``"parallel"`` (``selective_scan``) or ``"sequential"`` (``selective_scan_ref``).
    :param chunk_size: chunk length of the parallel scan (``None``: the whole sequence).
    The initialisation follows the paper: ``A = -[1..N]`` (S4D-real), ``D = 1``, ``dt`` log-uniform in
    ``[dt_min, dt_max]`` through the inverse softplus of ``dt_proj``'s bias.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        conv_bias: bool = True,
        bias: bool = False,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        scan: str = "parallel",
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        if scan not in ("parallel", "sequential"):
            raise ValueError(f"scan must be 'parallel' or 'sequential', not {scan!r}")
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.scan, self.chunk_size = scan, chunk_size
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(
            torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1)
        )
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        with torch.no_grad():
            std = self.dt_rank**-0.5
            self.dt_proj.weight.uniform_(-std, std)
            dt = torch.exp(
                torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
            )
            dt = dt.clamp(min=dt_init_floor)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def initial_state(self, batch: int, device=None, dtype=None) -> MambaState:
        """A zero state (nothing seen yet)."""
        kw = {"device": device or self.D.device, "dtype": dtype or self.D.dtype}
        return MambaState(
            torch.zeros(batch, self.d_inner, self.d_conv - 1, **kw),
            torch.zeros(batch, self.d_inner, self.d_state, **kw),
        )

    def _ssm_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """From the conv output ``x`` ``[B, D_in, L]``: ``A [D_in, N]``, ``delta [B, D_in, L]``, ``B, C [B, N, L]``."""
        dt, b, c = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt)).transpose(1, 2)
        return -torch.exp(self.A_log), delta, b.transpose(1, 2), c.transpose(1, 2)

    def forward(
        self, hidden_states: Tensor, state: MambaState | None = None, return_state: bool = False
    ) -> Tensor | tuple[Tensor, MambaState]:
        """``[B, L, d_model] -> [B, L, d_model]``; continues from ``state`` when given (the conv sees its
        stored inputs, the scan starts from its SSM state); with ``return_state`` also the new state."""
        length = hidden_states.shape[1]
        x, z = self.in_proj(hidden_states).transpose(1, 2).chunk(2, dim=1)
        if state is None:
            state = self.initial_state(x.shape[0], x.device, x.dtype)
        x_padded = torch.cat([state.conv, x], dim=-1)
        x = F.silu(self.conv1d(x_padded))
        A, delta, b, c = self._ssm_inputs(x)
        scan = selective_scan if self.scan == "parallel" else selective_scan_ref
        kw = {"chunk_size": self.chunk_size} if self.scan == "parallel" else {}
        y, ssm = scan(x, delta, A, b, c, self.D, z, initial_state=state.ssm, return_last_state=True, **kw)
        out = self.out_proj(y.transpose(1, 2))
        if not return_state:
            return out
        new = MambaState(x_padded[:, :, x_padded.shape[-1] - (self.d_conv - 1) :], ssm) if length else state
        return out, new

    def step(self, hidden_states: Tensor, state: MambaState | None = None) -> tuple[Tensor, MambaState]:
        """One decoding step: ``[B, d_model]`` and a state -> ``[B, d_model]`` and the next state (O(1) in
        the sequence length: the conv window and one recurrence update)."""
        x, z = self.in_proj(hidden_states).chunk(2, dim=-1)
        if state is None:
            state = self.initial_state(x.shape[0], x.device, x.dtype)
        window = torch.cat([state.conv, x[..., None]], dim=-1)  # [B, D_in, d_conv]
        x = torch.einsum("bdk,dk->bd", window, self.conv1d.weight[:, 0])
        if self.conv1d.bias is not None:
            x = x + self.conv1d.bias
        x = F.silu(x)
        A, delta, b, c = self._ssm_inputs(x[..., None])
        delta, b, c = delta[..., 0], b[..., 0], c[..., 0]  # [B, D_in], [B, N], [B, N]
        h = torch.exp(delta[..., None] * A) * state.ssm + (delta * x)[..., None] * b[:, None, :]
        y = (torch.einsum("bdn,bn->bd", h, c) + self.D * x) * F.silu(z)
        return self.out_proj(y), MambaState(window[:, :, 1:], h)


class MambaBlock(nn.Module):
    """A pre-norm residual Mamba block, ``x + mixer(norm(x))``, ``[B, L, d_model] -> [B, L, d_model]``; the
    keyword arguments go to ``MambaMixer``."""

    def __init__(self, d_model: int, norm_eps: float = 1e-5, **mixer: object) -> None:
        super().__init__()
        self.norm = RMSNorm(d_model, eps=norm_eps)
        self.mixer = MambaMixer(d_model, **mixer)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return hidden_states + self.mixer(self.norm(hidden_states))
