"""The web console served by ``ioc api`` under ``/console``: server-rendered pages (Jinja2),
password login with session cookies and CSRF tokens, Vietnamese first, nothing from outside.

Authorization is the API's: the session yields the same ``Principal`` (role and communes) and the
pages call the same route functions and scope parameters as the REST API.
"""
