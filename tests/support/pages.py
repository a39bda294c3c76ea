"""Following `Link: <…>; rel="next"` from page to page."""

import re

LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def next_link(response):
    link = response.headers.get("Link")
    if link is None:
        return None
    match = LINK.match(link)
    assert match, link
    return match.group(1)
