"""The HTTP management endpoint (PowerMTA's ``http-mgmt-port``): status, queues, controls.

* :mod:`~mta.mgmt.app` — the ASGI application and its routes;
* :mod:`~mta.mgmt.access` — ``http-access`` rules: who may read and who may change;
* :mod:`~mta.mgmt.guard` — DNS rebinding, CSRF and missing-key defences;
* :mod:`~mta.mgmt.models` — the JSON answers;
* :mod:`~mta.mgmt.problem` — errors as RFC 9457 problem details;
* :mod:`~mta.mgmt.server` — uvicorn inside the MTA's own event loop.
"""
