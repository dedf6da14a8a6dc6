"""The output layer (hidden -> vocabulary) computed only at the positions that are scored.

Both the trainer (the loss over the response tokens) and the evaluation (the references' NLL)
need the logits of a few positions of a batch, never all of them; the output layer and the
softmax over a vocabulary of tens of thousands run at every position otherwise. This module
holds the one mechanism both use, so that training and evaluation (which never import each
other) share it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TargetLogits"]


class TargetLogits:
    """The output layer computed only at the positions that have a target.

    A causal LM's output layer (hidden -> vocabulary) and the cross-entropy over the vocabulary
    run at every position, but only the positions with a target (the response tokens; not the
    prompt, not padding) enter the loss. A forward pre-hook on the model's output embeddings
    hands the layer the hidden states of those positions only, inside the model's own forward
    (so FSDP2 gathers the layer's weights as usual), and the model returns (targets, vocab)
    logits. The loss (the sum over the targets) and its gradients are the same up to float
    summation order; the layer's cost falls by the share of positions without a target.

    A model whose forward does not call its output embeddings returns full logits, and
    ``logits`` selects the rows afterwards: the same numbers, without the saving.
    """

    def __init__(self, model: nn.Module):
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        self._index: torch.Tensor | None = None
        self._handle = head.register_forward_pre_hook(self._select) if isinstance(head, nn.Module) else None

    def _select(self, module, args):
        if self._index is None or not args:
            return None
        hidden = args[0]
        return (hidden.flatten(0, -2).index_select(0, self._index),) + tuple(args[1:])

    def logits(self, model: nn.Module, index: torch.Tensor, **inputs) -> torch.Tensor:
        """(len(index), vocab) logits of the positions ``index`` of the flattened (rows x length)
        batch, from ``model(**inputs)``."""
        self._index = index
        try:
            logits = model(**inputs).logits
        finally:
            self._index = None
        if logits.dim() == 3:  # the hook did not run
            logits = logits.flatten(0, 1).index_select(0, index)
        return logits

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> TargetLogits:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
