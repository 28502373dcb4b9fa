"""The no-attack baseline: the goal is sent unchanged."""

from __future__ import annotations

from harc.attacks.base import TemplateAttack
from harc.attacks.registry import register_attack


@register_attack("direct")
class DirectAttack(TemplateAttack):
    name = "direct"
    template = "{goal}"
