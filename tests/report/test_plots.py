from __future__ import annotations

import math

from harc.report import plot_asr, plot_tradeoff, write_report, write_table_and_figures
from tests.report.test_table import result

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_png_files(tmp_path):
    results = [result("base", 0.35), result("harc", 0.05, pap=None)]
    for path in (plot_asr(results, tmp_path / "asr.png"),
                 plot_tradeoff(results, tmp_path / "sub" / "tradeoff.png")):
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_report_and_nan_means(tmp_path):
    empty = result("empty", math.nan, pap=None)
    empty.sections = [s for s in empty.sections if s.section == "harmfulness"]
    files = write_table_and_figures([result("base", 0.3), empty], tmp_path)
    assert set(files) == {"table", "asr_plot", "tradeoff_plot"}
    assert "| empty |" in (tmp_path / "table.md").read_text(encoding="utf-8")
    assert (tmp_path / "tradeoff.png").read_bytes().startswith(PNG)


def test_write_report_renders_one_document(tmp_path):
    files = write_report([result("base", 0.3), result("harc", 0.1)], tmp_path)
    assert set(files) == {"table", "asr_plot", "tradeoff_plot", "report_md", "report_html"}
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# harc evaluation: base, harc on ")
    assert "![rate per attack](asr.png)" in markdown and "| harc |" in markdown
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2 and "<td>harc</td>" in page


def test_coincident_methods_share_one_label(tmp_path, monkeypatch):
    import matplotlib.axes

    labels: list[str] = []
    real = matplotlib.axes.Axes.annotate

    def record(self, text, *args, **kwargs):
        labels.append(text)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "annotate", record)
    plot_tradeoff([result("base", 0.3), result("repbend", 0.3), result("harc", 0.1)],
                  tmp_path / "t.png")
    assert len(labels) == 2
    assert labels[0].startswith("base, repbend") and labels[1].startswith("harc")


def test_labels_of_nearby_points_do_not_overlap():
    from harc.figures import plt
    from harc.report.plots import label_extent, place_labels

    figure, axis = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    axis.set_xlim(-0.05, 1.05)
    axis.set_ylim(-0.05, 1.05)
    points = [(0.44, 0.69, "base (0.23)"), (0.445, 0.685, "circuit_breakers (0.22)"),
              (0.45, 0.70, "repbend (0.22)"), (0.9, 0.1, "far (0.2)")]
    texts = place_labels(axis, points)
    renderer = figure.canvas.get_renderer()
    boxes = [label_extent(t, renderer) for t in texts]
    assert len(texts) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    # the lone point keeps the default place, without a leader line
    far = next(t for t in texts if t.get_text() == "far (0.2)")
    assert far.xyann == (5, 5) and far.arrow_patch is None
    plt.close(figure)
