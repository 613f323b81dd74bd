"""The course wiki: one page per session (with its summary), an index and the syllabus, exported
as Markdown (GitHub/GitLab wikis, static sites), MediaWiki markup or a static HTML site.

Entry point: ``course.wiki.export.export_wiki``; the formats are in ``course.wiki.formats``.
"""
