"""The course exchange: a JupyterHub service that receives, stores and hands out course files, and
the nbgrader exchange classes that talk to it over HTTP.

    service.py   the tornado service (JupyterHub-authenticated, authorized by course role)
    store.py     what the service does with files and the gradebook, without HTTP
    client.py    nbgrader's ExchangeFactory plug-ins: release, fetch, submit, list, collect,
                 release/fetch feedback, each one HTTP call away from the service
    wire.py      what crosses the wire: JSON documents, files as base64, receipt timestamps

Unlike nbgrader's filesystem exchange, nothing is shared between user servers but the service's
URL: the receipt time is the service's clock, the user is the owner of the JupyterHub token, and
what a user may see or do follows from their role in the course file's roster.
"""
