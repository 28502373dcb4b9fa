"""The one document model every report renders through (the demo, ``harc evaluate`` and
``harc compare``, ``harc analyze``, ``harc judge-eval``): blocks rendered to Markdown and to
self-contained HTML (images inlined as base64 PNG), so the two always say the same thing."""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
h1{border-bottom:2px solid #444;padding-bottom:.3rem}h2{margin-top:2.2rem;border-bottom:1px
solid #ccc}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #ddd;margin:.5rem 0}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap;font-size:.85rem}
.caveat{background:#fff7e0;border-left:4px solid #e0a800;padding:.4rem .8rem}
code{background:#f1f1f1;padding:0 .2rem}
"""


@dataclass
class Document:
    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("p", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("ul", items))

    def caveats(self, items: list[str]) -> None:
        self.blocks.append(("caveats", items))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("table", (header, rows)))

    def markdown_table(self, text: str) -> None:
        """Markdown that may hold pipe tables, paragraphs and ``- `` bullet lists."""
        self.blocks.append(("md", text))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def code(self, text: str) -> None:
        self.blocks.append(("pre", text))

    @classmethod
    def from_markdown(cls, text: str, base: str | os.PathLike[str] | None = None) -> Document:
        """A document from Markdown text whose first line is ``# title`` (the rest: headings,
        pipe tables, ``- `` lists, code blocks and paragraphs). With ``base``, a line that is
        only an image link (``![alt](path)``, relative to ``base``) becomes an image block,
        inlined in the HTML."""
        first, _, rest = text.partition("\n")
        document = cls(first.removeprefix("# ").strip())
        chunk: list[str] = []

        def flush() -> None:
            if "\n".join(chunk).strip():
                document.markdown_table("\n".join(chunk).strip("\n"))
            chunk.clear()

        for line in rest.splitlines():
            image = re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line.strip())
            if image and base is not None:
                flush()
                document.image(Path(base) / image.group(2), image.group(1))
            else:
                chunk.append(line)
        flush()
        return document

    def write(self, out_dir: str | os.PathLike[str], stem: str = "report") -> dict[str, Path]:
        """``stem.md`` (image links relative to ``out_dir``) and a self-contained
        ``stem.html``, written atomically."""
        from harc.io import write_text_atomic

        out = Path(out_dir)
        markdown, page = out / f"{stem}.md", out / f"{stem}.html"
        write_text_atomic(markdown, self.to_markdown(out))
        write_text_atomic(page, self.to_html())
        return {"report_md": markdown, "report_html": page}

    def to_markdown(self, base: Path) -> str:
        lines = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "h2":
                lines += [f"## {value}", ""]
            elif kind == "p":
                lines += [str(value), ""]
            elif kind in ("ul", "caveats"):
                lines += [f"- {item}" for item in value] + [""]  # type: ignore[union-attr]
            elif kind == "table":
                header, rows = value  # type: ignore[misc]
                lines += [_md_row(header), "|" + "|".join(["---"] * len(header)) + "|"]
                lines += [_md_row(row) for row in rows] + [""]
            elif kind == "md":
                lines += [str(value), ""]
            elif kind == "img":
                path, alt = value  # type: ignore[misc]
                lines += [f"![{alt}]({os.path.relpath(path, base)})", ""]
            elif kind == "pre":
                lines += ["```", str(value), "```", ""]
        return "\n".join(lines)

    def to_html(self) -> str:
        parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
                 f"{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
                 f"<h1>{html.escape(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "h2":
                parts.append(f"<h2>{_inline(str(value))}</h2>")
            elif kind == "p":
                parts.append(f"<p>{_inline(str(value))}</p>")
            elif kind == "ul":
                parts.append(_html_list(value))  # type: ignore[arg-type]
            elif kind == "caveats":
                parts.append(f"<div class='caveat'>{_html_list(value)}</div>")  # type: ignore[arg-type]
            elif kind == "table":
                header, rows = value  # type: ignore[misc]
                parts.append(_html_table(header, rows))
            elif kind == "md":
                parts.append(_md_to_html(str(value)))
            elif kind == "img":
                path, alt = value  # type: ignore[misc]
                data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
                parts.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>")
            elif kind == "pre":
                parts.append(f"<pre>{html.escape(str(value))}</pre>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold**."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_inline(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _md_to_html(text: str) -> str:
    """Headings, pipe tables, ``- `` lists, code blocks and paragraphs: the Markdown harc's
    own reports write."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"(#{1,4}) (.*)", line)
        if heading:
            level = max(len(heading.group(1)), 2)  # the document title is the only h1
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if line.startswith("```"):
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre>{html.escape(chr(10).join(block))}</pre>")
            i += 1
            continue
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            rows = [_split_row(row) for row in block if not re.fullmatch(r"\|[\s:|-]+\|?",
                                                                          row.strip())]
            out.append(_html_table(rows[0], rows[1:]))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(lines[i][2:])
                i += 1
            out.append(_html_list(items))
            continue
        if line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)
