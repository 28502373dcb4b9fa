from __future__ import annotations

from harc.report import render_table
from harc.report.tradeoff import render_verdicts, verdicts
from tests.report.test_differences import attack, bench, row


def _rows():
    """harc refuses every attack but over-refuses; sft is safer than base only a little and
    keeps over-refusal; cast equals harc on attacks and beats it on over-refusal."""
    over = [0.0] * 20
    base = row("base", [attack("direct", [True] * 30), bench("over_refusal", "xstest", over),
                        bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10)])
    harc = row("harc", [attack("direct", [False] * 30),
                        bench("over_refusal", "xstest", [1.0] * 12 + [0.0] * 8),
                        bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10)])
    sft = row("sft", [attack("direct", [False] * 2 + [True] * 28),
                      bench("over_refusal", "xstest", over),
                      bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10)])
    cast = row("cast", [attack("direct", [False] * 30), bench("over_refusal", "xstest", over),
                        bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10)])
    return [base, harc, sft, cast]


def test_dominance_needs_a_significant_gain_and_no_significant_loss():
    found = {v.row: v for v in verdicts(_rows(), "harc")}
    assert found["cast"].dominates
    assert found["cast"].better == ("xstest ↓",) and not found["cast"].worse
    # sft: better over-refusal (12 discordant) but much worse compliance (28 discordant)
    assert not found["sft"].dominates and not found["sft"].dominated
    assert found["base"].better and found["base"].worse
    # against base, sft's 2-goal gain is not significant: a tie, not dominance
    against_base = {v.row: v for v in verdicts(_rows(), "base")}
    assert not against_base["sft"].better and not against_base["sft"].worse
    assert against_base["cast"].dominates and not against_base["harc"].dominates


def test_verdict_lines_name_who_dominates_the_reference():
    text = render_verdicts(_rows(), "harc")
    assert "**cast dominates harc**" in text
    assert "sft and harc: neither dominates" in text
    assert text.splitlines()[-1] == "- harc is dominated by: cast"
    rows = _rows()[:3]
    assert "harc is not dominated by any row" in render_verdicts(rows, "harc")
    assert render_verdicts(rows, "missing") == ""


def test_the_table_carries_the_verdicts_against_base_and_the_second_reference():
    text = render_table(_rows(), also_against=("harc",))
    assert "Trade-off against base" in text and "Trade-off against harc" in text
    assert "- harc is dominated by: cast" in text


def test_rows_without_samples_are_untested_not_tied():
    rows = _rows()
    bare = row("guard", [attack("direct", [False] * 30)])
    bare.sections[0].samples = []
    (verdict,) = [v for v in verdicts([*rows, bare], "harc") if v.row == "guard"]
    assert len(verdict.untested) == 3 and not verdict.dominates


def test_one_marginal_axis_among_several_is_not_dominance():
    """6 of 20 over-refusals removed: exact McNemar p = 0.031 alone, above Holm's 0.05/3 for
    the three tested axes; everything else equal."""
    base = row("base", [attack("direct", [True] * 30),
                        bench("over_refusal", "xstest", [1.0] * 6 + [0.0] * 14),
                        bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10)])
    lucky = row("lucky", [attack("direct", [True] * 30),
                          bench("over_refusal", "xstest", [0.0] * 20),
                          bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10)])
    (verdict,) = verdicts([base, lucky], "base")
    assert not verdict.better and not verdict.dominates
    # the same gain on its own axis is significant
    alone = row("alone", [bench("over_refusal", "xstest", [0.0] * 20)])
    base_alone = row("base", [bench("over_refusal", "xstest", [1.0] * 6 + [0.0] * 14)])
    (verdict,) = verdicts([base_alone, alone], "base")
    assert verdict.better == ("xstest ↓",) and verdict.dominates
