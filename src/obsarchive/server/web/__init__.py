"""The archive's web interface at ``/ui/``: search, frame pages, downloads, login and profile.

Server-rendered Django templates over the frames API's own filter set, visibility rules and
row shapes, so a page and the API answer for the same query can never disagree; htmx and
Alpine.js (vendored, pinned) enhance the pages, which also work without JavaScript.
"""
