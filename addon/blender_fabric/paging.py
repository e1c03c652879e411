"""Page arithmetic shared by browse_data and get_console_output. Plain Python."""

import math

from .errors import FabricError


def paginate(items, page, page_size):
    """Returns (page_items, pages). Pages count from 1; a page past the end is empty."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise FabricError(f"page must be an integer >= 1, got {page!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise FabricError(f"page_size must be an integer >= 1, got {page_size!r}")
    pages = math.ceil(len(items) / page_size)
    start = (page - 1) * page_size
    return list(items[start:start + page_size]), pages
