"""GCG (Zou et al. 2023): a token-level adversarial suffix optimised by gradient.

Per goal, a suffix of ``suffix_length`` tokens is appended to the goal and optimised so the
chat-formatted prompt makes the model continue with ``target``: each step takes the gradient of
the target cross-entropy with respect to the one-hot suffix tokens, samples ``search_width``
single-token substitutions from the ``topk`` most promising tokens per position, evaluates them
in batches and moves to the best. The best suffix seen (the initial one included) is returned.

The segments are tokenised separately (prompt prefix + goal + separator, suffix ids, template
suffix, target), as in the reference implementations; ``meta["consistent_tokens"]`` says whether
tokenising the final prompt as a whole gives the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from harc.attacks.base import AttackedPrompt, check_goals, goal_rng
from harc.attacks.registry import register_attack
from harc.errors import HarcError
from harc.positions import ChatFormat


@dataclass(frozen=True)
class GCGResult:
    suffix: str
    suffix_ids: list[int]
    initial_loss: float
    best_loss: float
    losses: list[float]
    early_stopped: bool


@dataclass
class _Segments:
    before: torch.Tensor
    after: torch.Tensor
    target: torch.Tensor


@register_attack("gcg")
class GCGAttack:
    name = "gcg"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        chat: ChatFormat | None = None,
        *,
        num_steps: int = 20,
        search_width: int = 64,
        topk: int = 32,
        suffix_length: int = 20,
        target: str = "Sure, here is",
        targets: Mapping[str, str] | None = None,
        batch_size: int = 32,
        n_replace: int = 1,
        init_token: str = "!",
        separator: str = " ",
        allow_non_ascii: bool = False,
        filter_retokenization: bool = True,
        early_stop: bool = True,
    ) -> None:
        if min(num_steps, search_width, topk, suffix_length, batch_size, n_replace) < 1:
            raise ValueError(
                "GCG sizes (steps, width, topk, length, batch, n_replace) must be >= 1"
            )
        if n_replace > suffix_length:
            raise ValueError("n_replace cannot exceed suffix_length")
        self.model, self.tokenizer = model, tokenizer
        self.chat = chat or ChatFormat(tokenizer)
        self.num_steps, self.search_width, self.topk = num_steps, search_width, topk
        self.suffix_length, self.batch_size, self.n_replace = suffix_length, batch_size, n_replace
        self.target, self.targets = target, dict(targets or {})
        self.separator = separator
        self.filter_retokenization, self.early_stop = filter_retokenization, early_stop
        self.embedding = model.get_input_embeddings()
        self.device = self.embedding.weight.device
        self.allowed = self._allowed_tokens(allow_non_ascii)
        init_ids = self._ids(init_token)
        if len(init_ids) != 1 or not self.allowed[init_ids[0]]:
            raise HarcError(f"init_token {init_token!r} must be one allowed token, got {init_ids}")
        self.init_id = init_ids[0]
        self.topk = min(self.topk, int(self.allowed.sum()))

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _allowed_tokens(self, allow_non_ascii: bool) -> torch.Tensor:
        rows = self.embedding.weight.shape[0]
        allowed = torch.zeros(rows, dtype=torch.bool)
        special = set(self.tokenizer.all_special_ids)
        texts = self.tokenizer.batch_decode([[i] for i in range(min(rows, len(self.tokenizer)))])
        for token_id, text in enumerate(texts):
            printable = allow_non_ascii or (text.isascii() and text.isprintable())
            allowed[token_id] = bool(text) and printable and token_id not in special
        if not allowed.any():
            raise HarcError("the tokenizer has no token GCG may use")
        return allowed

    def _segments(self, goal: str, target: str) -> _Segments:
        def tensor(text: str) -> torch.Tensor:
            return torch.tensor(self._ids(text), dtype=torch.long, device=self.device)

        segments = _Segments(
            tensor(self.chat.prefix + goal + self.separator),
            tensor(self.chat.suffix),
            tensor(target),
        )
        if segments.target.numel() == 0:
            raise HarcError("the GCG target string is empty after tokenisation")
        return segments

    def _inputs(self, seg: _Segments, suffix_embeds: torch.Tensor) -> torch.Tensor:
        n = suffix_embeds.shape[0]
        parts = [
            self.embedding(ids)[None].expand(n, -1, -1)
            for ids in (seg.before, seg.after, seg.target)
        ]
        return torch.cat([parts[0], suffix_embeds, parts[1], parts[2]], dim=1)

    def _target_logits(self, seg: _Segments, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.model(inputs_embeds=inputs, use_cache=False).logits
        start = inputs.shape[1] - seg.target.numel()
        return logits[:, start - 1 : -1, :].float()

    def _token_gradient(self, seg: _Segments, ids: torch.Tensor) -> torch.Tensor:
        weight = self.embedding.weight
        one_hot = torch.zeros(ids.numel(), weight.shape[0], dtype=weight.dtype, device=self.device)
        one_hot.scatter_(1, ids[:, None], 1.0)
        one_hot.requires_grad_(True)
        with torch.enable_grad():
            logits = self._target_logits(seg, self._inputs(seg, (one_hot @ weight)[None]))
            loss = F.cross_entropy(logits[0], seg.target)
            (grad,) = torch.autograd.grad(loss, one_hot)
        return grad.float()

    @torch.no_grad()
    def _losses(
        self, seg: _Segments, candidates: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean target cross-entropy per candidate, and whether greedy decoding hits the target."""
        losses, hits = [], []
        for chunk in candidates.split(self.batch_size):
            logits = self._target_logits(seg, self._inputs(seg, self.embedding(chunk)))
            labels = seg.target[None].expand(chunk.shape[0], -1)
            ce = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
            losses.append(ce.mean(dim=1))
            hits.append((logits.argmax(dim=-1) == labels).all(dim=1))
        return torch.cat(losses), torch.cat(hits)

    def _sample(
        self, ids: torch.Tensor, grad: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        grad = grad.cpu()
        grad[:, ~self.allowed] = float("inf")
        top = (-grad).topk(self.topk, dim=1).indices
        width, length = self.search_width, ids.numel()
        positions = torch.rand(width, length, generator=generator).argsort(dim=1)[
            :, : self.n_replace
        ]
        choice = torch.randint(0, self.topk, (width, self.n_replace), generator=generator)
        candidates = ids.cpu().repeat(width, 1)
        candidates.scatter_(1, positions, top[positions, choice])
        candidates = torch.unique(candidates, dim=0)
        if self.filter_retokenization:
            kept = [
                row for row in candidates if self._ids(self.tokenizer.decode(row)) == row.tolist()
            ]
            if kept:
                candidates = torch.stack(kept)
        return candidates.to(self.device)

    def optimize(self, goal: str, *, seed: int = 0, target: str | None = None) -> GCGResult:
        target = target or self.targets.get(goal, self.target)
        seg = self._segments(goal, target)
        generator = torch.Generator().manual_seed(goal_rng(seed, goal, self.name).getrandbits(63))
        ids = torch.full((self.suffix_length,), self.init_id, dtype=torch.long, device=self.device)
        loss, hit = self._losses(seg, ids[None])
        initial = best_loss = float(loss[0])
        best_ids, losses, stopped = ids, [], bool(hit[0]) and self.early_stop
        was_training = self.model.training
        self.model.eval()
        try:
            for _ in range(0 if stopped else self.num_steps):
                candidates = self._sample(ids, self._token_gradient(seg, ids), generator)
                cand_losses, hits = self._losses(seg, candidates)
                index = int(cand_losses.argmin())
                ids, step_loss = candidates[index], float(cand_losses[index])
                losses.append(step_loss)
                if step_loss < best_loss:
                    best_loss, best_ids = step_loss, ids
                if self.early_stop and bool(hits[index]):
                    stopped = True
                    break
        finally:
            self.model.train(was_training)
        suffix_ids = best_ids.tolist()
        return GCGResult(
            self.tokenizer.decode(suffix_ids), suffix_ids, initial, best_loss, losses, stopped
        )

    def apply(self, goals: Sequence[str], *, seed: int = 0) -> list[AttackedPrompt]:
        results = []
        for goal in check_goals(goals):
            found = self.optimize(goal, seed=seed)
            prompt = goal + self.separator + found.suffix
            segments = (
                self._ids(self.chat.prefix + goal + self.separator),
                self._ids(self.chat.suffix),
            )
            expected = segments[0] + found.suffix_ids + segments[1]
            consistent = self._ids(self.chat.format(prompt)) == expected
            meta = {
                "seed": seed,
                "target": self.targets.get(goal, self.target),
                "suffix": found.suffix,
                "suffix_ids": found.suffix_ids,
                "initial_loss": found.initial_loss,
                "best_loss": found.best_loss,
                "losses": found.losses,
                "steps": len(found.losses),
                "early_stopped": found.early_stopped,
                "consistent_tokens": consistent,
            }
            results.append(AttackedPrompt(goal, prompt, self.name, meta))
        return results
