"""The course dashboard: a JupyterHub service where instructors see the course at a glance and
students see their own standing (``dashboard.service``); the pages' data come from the course
library (``dashboard.data``), their plots are server-rendered SVG (``dashboard.plots``)."""
