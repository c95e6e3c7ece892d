"""Reading pages in tests: what a person reads, with the markup taken out."""

import html as html_lib
import re


def words(html: str) -> str:
    """The page's text as a reader sees it: tags removed, entities decoded, whitespace collapsed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())
