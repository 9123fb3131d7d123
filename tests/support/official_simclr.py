"""SimCLR's official update, transcribed in torch from google-research/simclr: tf2/objective.py's
add_contrastive_loss (one replica) and tf2/lars_optimizer.py's LARSOptimizer with classic momentum,
as tf2/model.py builds it (exclude_from_weight_decay=['batch_normalization', 'bias', ...], which is
also its exclude_from_layer_adaptation). What the harness's SimCLR is checked against."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

LARGE_NUM = 1e9
EETA = 0.001  # EETA_DEFAULT


def contrastive_loss(hidden: torch.Tensor, temperature: float) -> torch.Tensor:
    """add_contrastive_loss(hidden, hidden_norm=True, temperature, strategy=None)."""
    hidden = F.normalize(hidden, dim=-1)
    hidden1, hidden2 = hidden.chunk(2, 0)
    batch_size = len(hidden1)
    labels = F.one_hot(torch.arange(batch_size), batch_size * 2).to(hidden.dtype)
    masks = F.one_hot(torch.arange(batch_size), batch_size).to(hidden.dtype)
    logits_aa = hidden1 @ hidden1.T / temperature - masks * LARGE_NUM
    logits_bb = hidden2 @ hidden2.T / temperature - masks * LARGE_NUM
    logits_ab = hidden1 @ hidden2.T / temperature
    logits_ba = hidden2 @ hidden1.T / temperature

    def softmax_cross_entropy_with_logits(labels, logits):
        return -(labels * F.log_softmax(logits, dim=1)).sum(dim=1)

    loss_a = softmax_cross_entropy_with_logits(labels, torch.cat([logits_ab, logits_aa], 1))
    loss_b = softmax_cross_entropy_with_logits(labels, torch.cat([logits_ba, logits_bb], 1))
    return (loss_a + loss_b).mean()


class LarsClassic:
    """LARSOptimizer(lr, momentum, weight_decay, classic_momentum=True, use_nesterov=False) over named
    tensors, updated in place; a name holding 'batch_normalization' or 'bias' is excluded."""

    def __init__(self, params: dict[str, torch.Tensor], momentum: float, weight_decay: float):
        self.params, self.momentum, self.weight_decay = params, momentum, weight_decay
        self.slots = {name: torch.zeros_like(p) for name, p in params.items()}  # "Momentum"

    @torch.no_grad()
    def apply_gradients(self, grads: dict[str, torch.Tensor], learning_rate: float) -> None:
        for name, param in self.params.items():  # _resource_apply_dense
            grad, v = grads[name], self.slots[name]
            excluded = "batch_normalization" in name or "bias" in name
            if not excluded:  # _use_weight_decay
                grad = grad + self.weight_decay * param
            trust_ratio = 1.0
            if not excluded:  # _do_layer_adaptation
                w_norm, g_norm = torch.linalg.norm(param), torch.linalg.norm(grad)
                trust_ratio = torch.where(w_norm > 0, torch.where(g_norm > 0, EETA * w_norm / g_norm, 1.0), 1.0)
            scaled_lr = learning_rate * trust_ratio
            next_v = self.momentum * v + scaled_lr * grad
            param.sub_(next_v)  # update = next_v; next_param = param - update
            v.copy_(next_v)


def tf_names(model: nn.Module) -> dict[str, nn.Parameter]:
    """A torch model's parameters under names with TF's markers: a BN layer's under
    'batch_normalization', biases ending in 'bias'."""
    named = {}
    for module_name, module in model.named_modules():
        bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
        for name, p in module.named_parameters(recurse=False):
            named[f"{module_name}/{'batch_normalization/' if bn else ''}{name}"] = p
    return named
