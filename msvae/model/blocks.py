"""Building blocks shared by the models: residual 1-D convs over time, resampling, attention.

Tensors are channels-first [batch, channels, frames] except attention tokens, which are
[batch, tokens, channels]. Mel bins enter as channels, so every conv runs along time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

# On CPU the fused "flash" kernel is slower than plain matmul-softmax-matmul for these
# short sequences (4 sources, 32 to 128 frames): measured 0.62 -> 0.36 s per demo training
# step on one thread. GPUs keep every kernel PyTorch picks from.
CPU_ATTENTION = [SDPBackend.MATH]
ANY_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                 SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]


def full_precision(module: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """`module(h)` in float32 with autocast off, for output heads: under bf16 their dB
    outputs would come in steps of 0.25 dB near -50 dB, too coarse for the loss."""
    with torch.autocast(h.device.type, enabled=False):
        return module(h.float())


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups that always divide `channels`."""
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3-tap convs with pre-activation norm and a residual path; keeps shape."""

    def __init__(self, channels: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            norm(channels), nn.SiLU(), nn.Conv1d(channels, channels, 3, padding=1),
            norm(channels), nn.SiLU(), nn.Dropout(dropout),
            nn.Conv1d(channels, channels, 3, padding=1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.net(h)


def down(channels: int) -> nn.Conv1d:
    """Halve the frame rate: [B, C, T] -> [B, C, T/2]."""
    return nn.Conv1d(channels, channels, 4, stride=2, padding=1)


def up(channels: int) -> nn.ConvTranspose1d:
    """Double the frame rate: [B, C, T] -> [B, C, 2T]."""
    return nn.ConvTranspose1d(channels, channels, 4, stride=2, padding=1)


class AttentionBlock(nn.Module):
    """Pre-norm transformer block over tokens [N, L, C]; `keys` [N, L] bool hides False keys."""

    def __init__(self, channels: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(),
                                 nn.Linear(4 * channels, channels), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        n, length, c = x.shape
        q, k, v = (self.qkv(self.ln1(x)).view(n, length, 3, self.heads, c // self.heads)
                   .permute(2, 0, 3, 1, 4))
        mask = None if keys is None else keys[:, None, None, :]
        with sdpa_kernel(CPU_ATTENTION if x.device.type == "cpu" else ANY_ATTENTION):
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(a.transpose(1, 2).reshape(n, length, c))
        return x + self.mlp(self.ln2(x))


class TemporalAttention(nn.Module):
    """`depth` self-attention blocks along time on [B, C, T]; depth 0 is the identity."""

    def __init__(self, channels: int, heads: int, depth: int, dropout: float = 0.0):
        super().__init__()
        self.blocks = nn.ModuleList(AttentionBlock(channels, heads, dropout) for _ in range(depth))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.blocks:
            return h
        tokens = h.transpose(1, 2)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens.transpose(1, 2)
