"""What is wrong with a server URL the user gave (``--base-url``, an env server's URL), in words: the one check
that the LM CLI and :class:`~longplay.agents.remote.RemoteEnv` word as their own errors."""

from __future__ import annotations

from urllib.parse import urlsplit

#: The problems that leave no URL to show (redacted) in an error: it cannot be split, or its port cannot be read.
UNPARSABLE = "it cannot be parsed as a URL"
BAD_PORT = "its port is not a number from 1 to 65535"


def url_problem(url: str, schemes: tuple[str, ...], *, port_zero: bool = False) -> str | None:
    """What keeps ``url`` from naming a server to connect to, or None: it cannot be parsed (:data:`UNPARSABLE`),
    its port is not a number from 1 to 65535 (:data:`BAD_PORT`; 0 passes with ``port_zero``), its scheme is not one
    of ``schemes``, or it names no host.

    >>> url_problem("localhost:8000/v1", ("http", "https"))
    'its scheme is not http or https'
    >>> url_problem("http://localhost:8000/v1", ("http", "https")) is None
    True
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1/v1": Invalid IPv6 URL
        return UNPARSABLE
    try:
        port = parts.port  # raises for "http://host:80a", "http://host:99999"
    except ValueError:
        return BAD_PORT
    if port == 0 and not port_zero:  # 0 parses, but nothing can be reached there
        return BAD_PORT
    if parts.scheme not in schemes:
        return f"its scheme is not {' or '.join(schemes)}"
    if not parts.hostname:
        return "it names no host"
    return None
