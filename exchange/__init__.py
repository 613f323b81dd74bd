"""The course exchange: a JupyterHub service that receives, stores and hands out course files, and
the nbgrader exchange classes that talk to it over HTTP.

    service.py   the tornado service: its settings, routes and main() (README.md, "JupyterHub
                 and the exchange"; ARCHITECTURE.md, "The exchange")
    auth.py      who is asking: the hub's answer about a token, the staff services
    courses.py   the served courses: each one's store on its own thread, its roster
    handlers.py  one request handler per route: authorize, cap the body, parse, run the store
                 (course/store.py: what is done with files and the gradebook, without HTTP)
    client.py    nbgrader's ExchangeFactory plug-ins: release, fetch, submit, list, collect,
                 release/fetch feedback, each one HTTP call away from the service
    wire.py      what crosses the wire: JSON documents, files as base64, receipt timestamps

Unlike nbgrader's filesystem exchange, nothing is shared between user servers but the service's
URL: the receipt time is the service's clock, the user is the owner of the JupyterHub token, and
what a user may see or do follows from their role in the course file's roster.
"""
