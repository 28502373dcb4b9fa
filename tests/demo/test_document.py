from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from harc.demo.document import Document


def _png(path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(1, 1))
    axis.plot([0, 1], [0, 1])
    figure.savefig(path)
    plt.close(figure)
    return path


def test_markdown_and_html_say_the_same_thing(tmp_path):
    (tmp_path / "figs").mkdir()
    image = _png(tmp_path / "figs" / "plot.png")
    doc = Document("Title <&>")
    doc.heading("Section `one`")
    doc.paragraph("Some **bold** text with a | pipe")
    doc.table(["a", "b"], [["1", "x|y"]])
    doc.markdown_table("| M | v |\n|:---|---:|\n| base | 0.50 |\n\n- note one\n- note two")
    doc.image(image, "a plot")
    doc.caveats(["careful"])
    doc.code("raw <output>")

    markdown = doc.to_markdown(tmp_path)
    assert markdown.startswith("# Title <&>")
    assert "| 1 | x\\|y |" in markdown and "![a plot](figs/plot.png)" in markdown

    page = doc.to_html()
    assert "<title>Title &lt;&amp;&gt;</title>" in page
    assert "<code>one</code>" in page and "<b>bold</b>" in page
    assert "<td>base</td><td>0.50</td>" in page and "<li>note two</li>" in page
    assert "data:image/png;base64," in page and "figs/plot.png" not in page
    assert "raw &lt;output&gt;" in page and "class='caveat'" in page
