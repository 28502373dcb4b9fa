"""Write an analysis: PNG figures, the numbers behind them as JSON, and ``analysis.md``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harc
from harc.analysis.plane import class_geometry
from harc.analysis.transfer import TransferResult
from harc.document import Document
from harc.io import write_json_atomic

if TYPE_CHECKING:
    from harc.analysis.job import AnalysisResult


def _f(value: float | None, digits: int = 2, signed: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def geometry(result: AnalysisResult) -> dict[str, Any]:
    return {label: class_geometry(result.points.of(label)) for label in result.points.classes()}


def summary(result: AnalysisResult) -> dict[str, Any]:
    """Every table of ``analysis.md`` as JSON."""
    return {
        "harc_version": harc.__version__, "model": result.model, "model_key": result.model_key,
        "config": result.config_dict(), "slot": result.slot, "slot_source": result.slot_source,
        "aurocs": {str(k): list(v) for k, v in result.aurocs.items()},
        "plane": asdict(result.points.plane), "classes": geometry(result),
        "rule": {**asdict(result.rule), "text": result.rule.describe()},
        "shifts": [s.as_dict() for s in result.shifts],
        "separability": result.separability.as_dict(), "outcome": result.outcome.as_dict(),
        "recognition": result.recognition.summary(), "reference": result.reference.summary(),
        "sweep": result.sweep, "timings": result.timings, "seconds": result.seconds,
        "load_average": result.load_average,
    }


def render_markdown(result: AnalysisResult) -> str:
    c, sep, rec = result.config, result.separability, result.recognition
    aurocs = result.aurocs.get(result.slot, (None, None))
    load = result.load_average
    how = ("given" if result.slot_source == "given"
           else "auto: middle slot with the best mean held-out AUROC")
    lines = [
        f"# Harmfulness-refusal plane: {result.model}", "",
        f"- model key: `{result.model_key}`",
        f"- slot {result.slot} ({how}); "
        f"held-out AUROC direct-vs-harmless along v_harm {_f(aurocs[0], 3, False)}, "
        f"along v_ref {_f(aurocs[1], 3, False)}",
        f"- projection: {c.measure}; units: 0 = harmless centroid, 1 = direct harmful centroid",
        f"- {len(result.points.labels)} prompts: {c.n_harmless} harmless ({c.harmless}), "
        f"goals from {c.goals}; judge: {c.judge}; max_new_tokens {c.max_new_tokens}",
        f"- wall time {result.seconds:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in result.timings.items())}); load average "
        f"start {_load(load.get('start'))}, end {_load(load.get('end'))}", "",
        "## 1. The plane", "", "![plane](plane.png)", "",
    ]
    outcome = {row.attack: row for row in result.outcome.classes}
    rows = []
    for label, geo in geometry(result).items():
        row = outcome.get(label)
        rows.append([label, str(geo["n"]), _f(geo["centroid"][0]), _f(geo["centroid"][1]),
                     _f(geo["std"][0], signed=False), _f(geo["std"][1], signed=False),
                     _f(row.rate, signed=False) if row else "-"])
    lines += _table(["class", "n", "harm", "refusal", "sd harm", "sd refusal", "ASR"], rows)
    lines += ["", "## 2. What each attack suppresses", "",
              f"Shift = class mean minus direct-harmful mean, in gap units. Rule: "
              f"{result.rule.describe()}.", ""]
    lines += _table(
        ["attack", "n", "paired", "shift harm [95% CI]", "shift refusal [95% CI]", "harm axis",
         "refusal axis", "verdict"],
        [[s.attack, str(s.n), "yes" if s.paired else "no",
          f"{_f(s.harm.mean)} [{_f(s.harm.low)}, {_f(s.harm.high)}]",
          f"{_f(s.refusal.mean)} [{_f(s.refusal.low)}, {_f(s.refusal.high)}]",
          s.harm_state, s.refusal_state, f"**{s.verdict}**"] for s in result.shifts])
    lines += ["", "## 3. Separability of attack classes", "",
              f"Logistic regression on (harm, refusal), stratified {sep.folds}-fold CV over "
              f"{sep.n} attacked prompts in {len(sep.classes)} classes: accuracy "
              f"**{sep.accuracy:.3f}** vs chance (majority class '{sep.majority_class}') "
              f"{sep.chance:.3f}; balanced accuracy {sep.balanced_accuracy:.3f}.", "",
              "Confusion matrix (rows: true class, columns: predicted):", ""]
    lines += _table(["true \\ predicted", *sep.classes, "recall"],
                    [[name, *map(str, counts), _f(sep.recall[name], signed=False)]
                     for name, counts in zip(sep.classes, sep.confusion, strict=True)])
    o = result.outcome
    lines += ["", "## 4. Link to outcome", "",
              f"{o.successes} of {o.n} attacked prompts judged jailbroken ({c.judge} judge). "
              f"AUROC of success scored by a LOWER coordinate: harm {_f(o.auroc_harm, 3, False)}, "
              f"refusal {_f(o.auroc_refusal, 3, False)} (0.5 = position says nothing).", ""]
    lines += _table(["attack", "n", "jailbroken", "ASR", "mean (harm, refusal) jailbroken",
                     "mean (harm, refusal) refused"],
                    [[r.attack, str(r.n), str(r.successes), _f(r.rate, signed=False),
                      _pair(r.mean_success), _pair(r.mean_failure)] for r in o.classes])
    axis = rec.axis
    lines += [
        "", "## 5. Response-side harm recognition", "", "![response](response_tokens.png)", "",
        f"v_harm_resp at slot {axis.slot} from {result.reference.source} "
        f"({', '.join(f'{k} {v}' for k, v in axis.counts.items())}); per-token "
        f"cos(h, v_harm_resp), first {axis.window} answer tokens. Cross-fitted ({axis.folds} "
        f"folds) mean projection: helpful {axis.helpful_mean:+.4f}, harmful "
        f"{axis.harmful_mean:+.4f}, refusal {axis.refusal_mean:+.4f}; harmful midpoint "
        f"{axis.midpoint:+.4f}"
        + ("." if axis.separates else " (held-out harmful answers do NOT project above helpful "
                                      "ones: the midpoint is not meaningful)."),
        "",
        f"- successful jailbreaks: {rec.n_success}; with a harmless-looking prompt side (harm "
        f"< {rec.prompt_threshold}): {rec.n_success_prompt_harmless}",
        "",
        "Fraction of successful jailbreaks whose prompt side looked harmless but whose answer "
        f"crossed the harmful midpoint within {axis.window} tokens, and share of each group's "
        "answers that cross (the helpful row is the false-alarm rate of the rule):", "",
    ]
    names = list(next(iter(rec.rates.values())))
    lines += _table(
        ["rule", "fraction of jailbreaks", "of harmless-looking", *names],
        [[f"**{rule}**", f"**{_frac(rec.n_hidden[rule], rec.n_success)}**",
          _frac(rec.n_hidden[rule], rec.n_success_prompt_harmless),
          *(_f(rec.rates[rule][name], signed=False) for name in names)] for rule in rec.rates])
    lines += ["", "any_token: some answer token projects above the midpoint (noisy per token); "
              "window_mean: the mean over the window does.", "",
              "AUROC of the window-mean projection against helpful answers: "
              + "; ".join(f"{k} {_f(v, 3, False)}" for k, v in rec.auroc.items())]
    if result.sweep:
        lines += ["", "## 6. Slot sweep", "", "![sweep](sweep.png)", ""]
        lines += _table(["slot", "AUROC harm", "AUROC refusal", "CV accuracy", "chance",
                         "verdicts"],
                        [[str(r["slot"]), _f(r["auroc_harm"], 3, False),
                          _f(r["auroc_refusal"], 3, False), _f(r["separability"], 3, False),
                          _f(r["chance"], 3, False), _verdicts(r)] for r in result.sweep])
    lines += ["", "## Files", ""] + [f"- {name}: `{path.name}`"
                                     for name, path in result.files.items()]
    return "\n".join(lines) + "\n"


def _load(values: list[float] | None) -> str:
    return "-" if not values else "/".join(f"{v:.2f}" for v in values)


def _pair(values: tuple[float, float] | None) -> str:
    return "-" if values is None else f"({values[0]:+.2f}, {values[1]:+.2f})"


def _frac(k: int, n: int) -> str:
    return f"{k}/{n} = {k / n:.2f}" if n else f"{k}/0 (undefined)"


def _verdicts(row: dict[str, Any]) -> str:
    if row.get("error"):
        return f"undefined: {row['error'][:60]}"
    counts: dict[str, int] = {}
    for verdict in row["verdicts"].values():
        counts[verdict] = counts.get(verdict, 0) + 1
    return ", ".join(f"{v} x{n}" for v, n in sorted(counts.items()))


def write_report(result: AnalysisResult, out: str | Path) -> dict[str, Path]:
    from harc.analysis.plots import plot_plane, plot_response_tokens, plot_sweep

    out = Path(out)
    files: dict[str, Path] = dict(result.files)
    title = f"{result.model}, slot {result.slot}"
    files["plane_png"] = plot_plane(result.points, result.success, out / "plane.png",
                                    title=title)
    files["response_png"] = plot_response_tokens(result.recognition,
                                                 out / "response_tokens.png", title=title)
    points = result.points.as_dict()
    for point, response, verdict, won in zip(points["points"], result.responses,
                                             result.verdicts, result.success, strict=True):
        point.update(response=response, jailbroken=won, verdict=asdict(verdict))
    files["plane_json"] = out / "plane.json"
    write_json_atomic(files["plane_json"], {**points, "classes": geometry(result)})
    files["response_json"] = out / "response_tokens.json"
    write_json_atomic(files["response_json"], {
        **result.recognition.summary(), "curves": result.recognition.curves,
        "items": result.recognition.items})
    if result.sweep:
        files["sweep_png"] = plot_sweep(result.sweep, out / "sweep.png", chosen=result.slot)
        files["sweep_json"] = out / "sweep.json"
        write_json_atomic(files["sweep_json"], result.sweep)
    if (out / "reference_pairs.jsonl").is_file():
        files["reference_pairs"] = out / "reference_pairs.jsonl"
    files["summary_json"] = out / "analysis.json"
    files["markdown"] = out / "analysis.md"
    files["html"] = out / "analysis.html"
    write_json_atomic(files["summary_json"], summary(result))
    result.files = files
    Document.from_markdown(render_markdown(result), base=out).write(out, "analysis")
    return files


def render_transfer(result: TransferResult) -> str:
    lines = ["# Direction transfer", "", f"- A: `{result.a}`", f"- B: `{result.b}`", ""]
    if result.same_space:
        means = result.summary()["mean_cosine"]
        lines += ["Same residual space: cosine between corresponding directions per slot.", ""]
        names = list(result.cosines)
        slots = len(next(iter(result.cosines.values())))
        lines += _table(["slot", *names],
                        [[str(s), *(_f(result.cosines[n][s], 3) for n in names)]
                         for s in range(slots)])
        lines += ["", "Mean over defined slots: "
                  + ", ".join(f"{k} {_f(v, 3)}" for k, v in means.items()), ""]
    else:
        lines += ["Different residual spaces: no direct cosine; profiles only.", ""]
    if result.profiles:
        lines += ["Profiles vs relative depth (interpolated to a common grid):", ""]
        lines += _table(["profile", "Pearson r"],
                        [[k, _f(v["pearson_r"], 3)] for k, v in result.profiles.items()])
    if result.selected:
        lines += ["", "HARC's layer choice (§5 score, first and last 4 slots excluded):", ""]
        lines += _table(["set", "top 2 slots (depth)", "top 4 slots (depth)"], [
            [key.upper(), *(", ".join(f"{s} ({d:.2f})" for s, d in zip(
                chosen[k]["slots"], chosen[k]["depth"], strict=True)) for k in ("top2", "top4"))]
            for key, chosen in result.selected.items()])
    return "\n".join(lines) + "\n"


def write_transfer_report(result: TransferResult, out: str | Path) -> dict[str, Path]:
    from harc.analysis.plots import plot_transfer

    out = Path(out)
    files = {"transfer_png": plot_transfer(result, out / "transfer.png"),
             "transfer_json": out / "transfer.json", "markdown": out / "transfer.md",
             "html": out / "transfer.html"}
    write_json_atomic(files["transfer_json"], result.as_dict())
    document = Document.from_markdown(render_transfer(result))
    document.image(files["transfer_png"], "direction profiles across the two models")
    document.write(out, "transfer")
    return files
