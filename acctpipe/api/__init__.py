"""The HTTP API (FastAPI): suppression sync, change feed, analytics, throttles, webhooks.

:func:`create_app` builds the app over :class:`Services`; ``acctpipe serve``
(and ``acctpipe run``) host it. See :mod:`acctpipe.api.app` for the routes.
"""

from acctpipe.api.app import create_app
from acctpipe.api.keys import ApiKey, ApiKeyStore
from acctpipe.api.settings import ApiSettings, Services

__all__ = ["ApiKey", "ApiKeyStore", "ApiSettings", "Services", "create_app"]
