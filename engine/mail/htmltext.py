"""A plain-text version of an HTML mail body, for the text/plain alternative when the project
has no ``NAME.txt`` beside ``NAME.html``: paragraphs and line breaks kept, links written as
``text (url)``, list items as ``- item``, scripts, styles and images left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        *("p", "div", "table", "tr", "ul", "ol", "blockquote", "pre", "hr", "center"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer"),
    }
)
_SKIP = frozenset({"script", "style", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v]+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.links: list[str | None] = []
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
            self.link_text.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag == "a" and self.links:
            href, text = self.links.pop(), self.link_text.pop()
            shown = text.strip()
            if href and href.startswith(("http://", "https://")) and href != shown:
                self.out.append(f" ({href})" if shown else href)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = _SPACES.sub(" ", data.replace("\n", " "))
        self.out.append(text)
        if self.link_text:
            self.link_text[-1] += text


def html_to_text(body: str) -> str:
    """The readable text of an HTML body."""
    parser = _TextParser()
    parser.feed(body)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
