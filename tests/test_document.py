from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from harc.document import Document


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


def test_a_markdown_report_becomes_a_document_with_headings_and_code(tmp_path):
    text = ("# Judge evaluation: probe\n\n## jbb\n\n| a | b |\n|---|---:|\n| x | 1 |\n\n"
            "```\nq <1>\n```")
    doc = Document.from_markdown(text)
    assert doc.title == "Judge evaluation: probe"
    files = doc.write(tmp_path, "judge_eval")
    assert files["report_md"].read_text().startswith("# Judge evaluation: probe\n\n## jbb")
    page = files["report_html"].read_text()
    assert "<h2>jbb</h2>" in page and "<td>x</td><td>1</td>" in page
    assert "<pre>q &lt;1&gt;</pre>" in page


def test_image_links_of_a_markdown_report_are_inlined(tmp_path):
    _png(tmp_path / "plane.png")
    doc = Document.from_markdown("# Plane\n\n## 1\n\n![plane](plane.png)\n\ntext", base=tmp_path)
    assert "![plane](plane.png)" in doc.to_markdown(tmp_path)
    page = doc.to_html()
    assert "data:image/png;base64," in page and "<p>text</p>" in page
