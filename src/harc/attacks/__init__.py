"""Jailbreak attacks: each turns harmful goals into prompts for a target model.

``get_attack(name, **kwargs)`` builds one by registry name (``available_attacks()`` lists them);
every attack has ``apply(goals, *, seed=0) -> list[AttackedPrompt]``, deterministic given the
seed. Iterative attacks take their models as constructor arguments: PAIR a target and attacker
generator and a judge, GCG a model, tokenizer and chat format.
"""

from __future__ import annotations

from harc.attacks.base import Attack, AttackedPrompt, TemplateAttack
from harc.attacks.registry import (
    UnknownAttackError,
    available_attacks,
    get_attack,
    register_attack,
)

__all__ = [
    "Attack",
    "AttackedPrompt",
    "TemplateAttack",
    "UnknownAttackError",
    "available_attacks",
    "get_attack",
    "register_attack",
]
