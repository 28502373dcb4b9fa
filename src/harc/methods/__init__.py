"""Safety methods behind one interface (:class:`~harc.methods.base.Method`), by name.

Training-time: ``harc``, ``sft``, ``dpo``, ``circuit_breakers``, ``repbend``, ``harc_dpo``.
Inference-time: ``cast``, ``actadd``, ``harc_guard``.
``get_method(name).run(loaded, data, out_dir, config)`` returns a
:class:`~harc.methods.base.MethodOutput`; ``method_config(name, preset="cpu")`` builds a config.
"""

from __future__ import annotations

from harc.methods import (  # noqa: F401  (importing registers the methods)
    actadd,
    cast,
    circuit_breakers,
    dpo,
    harc_dpo,
    harc_guard,
    harc_method,
    repbend,
    sft,
)
from harc.methods.base import Method, MethodConfig, MethodOutput, make_config
from harc.methods.registry import available_methods, get_method, method_config, register_method

__all__ = [
    "Method",
    "MethodConfig",
    "MethodOutput",
    "available_methods",
    "get_method",
    "make_config",
    "method_config",
    "register_method",
]
