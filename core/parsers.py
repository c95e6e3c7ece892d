"""The API's one request parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

Its own module, not core.api: DRF imports parser classes while defining APIView,
and core.api imports DRF's views.
"""

from rest_framework import exceptions, parsers

# Keel's bodies are two levels deep at most. Deeper JSON is refused before a view sees it:
# past ~950 levels the decoder itself overflows the stack (a RecursionError, once a 500), and
# a body that decodes just below that can still overflow whatever walks it next.
MAX_JSON_DEPTH = 32


def _deeper_than(data, limit: int) -> bool:
    level, depth = [data], 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with nesting bounded: too deep is a 400 `parse_error`, never a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if isinstance(data, dict | list) and _deeper_than(data, MAX_JSON_DEPTH):
            raise too_deep
        return data
