"""get_console_output and console_operations over the addon's console buffer."""

from ..console import CONSOLE
from ..errors import FabricError
from ..paging import paginate
from ..registry import command


def _lines(level):
    try:
        return CONSOLE.lines(level)
    except ValueError as error:
        raise FabricError(str(error)) from error


@command("get_console_output")
def get_console_output(level="all", page=1, page_size=50):
    lines = _lines(level)
    page_lines, pages = paginate(lines, page, page_size)
    return {"level": level, "total": len(lines), "page": page, "page_size": page_size, "pages": pages, "lines": page_lines}


@command("console_operations")
def console_operations(operation, params=None):
    params = params or {}
    if operation == "clear":
        return {"cleared": CONSOLE.clear()}
    if operation == "stats":
        return CONSOLE.stats()
    if operation == "search":
        query = params.get("query")
        if not isinstance(query, str) or not query:
            raise FabricError("console_operations search needs params.query, a non-empty string")
        return {"query": query, "matches": CONSOLE.search(query)}
    raise FabricError(f"Unknown console operation: {operation}; valid: clear, stats, search")
