"""Evaluation: capability, over-refusal and jailbreak benchmarks scored on generated outputs."""
