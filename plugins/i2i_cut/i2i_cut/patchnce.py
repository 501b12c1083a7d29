"""PatchNCE: the contrastive loss that ties each output patch to the input patch at its position.

For query rows ``q`` (patches of the output's features) and key rows ``k`` (the input's
features at the same positions, detached): the positive logit of row ``i`` is ``<q_i, k_i>``,
the negatives are ``<q_i, k_j>`` for the other patches ``j`` of the *same image* (or, with
``all_negatives_from_minibatch``, of every image of the batch); the self-similarity diagonal
is set to -10 before everything is divided by the temperature, and each row's loss is the
cross-entropy of picking the positive.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: what the meaningless self-similarity entries are set to (exp(-10 / T) is about 0)
DIAGONAL_FILL = -10.0


class PatchNCELoss(nn.Module):
    """Per-patch InfoNCE loss of CUT (no reduction).

    Args:
        nce_T: temperature.
        all_negatives_from_minibatch: take negatives from every image of the batch (the
            reference's ``nce_includes_all_negatives_from_minibatch``, for single-image
            training), not only from the query's own image.

    Shape:
        - feat_q, feat_k: (batch_size * k, dim), rows batch-major as :class:`PatchSampleF` returns them.
        - output: (batch_size * k,)

    The batch size is an argument of the call, not of the loss: it is the number of images
    whose rows are in ``feat_q`` (on one rank of a distributed run, that rank's share), so
    a short last batch or a per-rank batch is handled as it is.
    """

    def __init__(self, nce_T: float = 0.07, all_negatives_from_minibatch: bool = False) -> None:
        super().__init__()
        self.nce_T = nce_T
        self.all_negatives_from_minibatch = all_negatives_from_minibatch

    def forward(self, feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int) -> torch.Tensor:
        rows, dim = feat_q.shape
        if feat_k.shape != feat_q.shape:
            raise ValueError(f"PatchNCE: feat_q {tuple(feat_q.shape)} and feat_k {tuple(feat_k.shape)} differ")
        if rows % batch_size:
            raise ValueError(f"PatchNCE: {rows} rows are not {batch_size} images' worth of patches")
        feat_k = feat_k.detach()
        l_pos = (feat_q * feat_k).sum(dim=1, keepdim=True)
        groups = 1 if self.all_negatives_from_minibatch else batch_size
        q = feat_q.view(groups, -1, dim)
        k = feat_k.view(groups, -1, dim)
        per_group = q.shape[1]
        l_neg = torch.bmm(q, k.transpose(2, 1))
        diagonal = torch.eye(per_group, device=feat_q.device, dtype=torch.bool)[None]
        l_neg = l_neg.masked_fill(diagonal, DIAGONAL_FILL).view(-1, per_group)
        logits = torch.cat((l_pos, l_neg), dim=1) / self.nce_T
        target = torch.zeros(rows, dtype=torch.long, device=feat_q.device)
        return F.cross_entropy(logits, target, reduction="none")

    def extra_repr(self) -> str:
        return f"nce_T={self.nce_T}, all_negatives_from_minibatch={self.all_negatives_from_minibatch}"
