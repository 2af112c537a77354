"""The partner portal: the product's web front door (``scorecard serve``).

Server-rendered pages (FastAPI + Jinja2, no JavaScript needed) over the same warehouse and
folders as intake, reusing intake's own functions: the check of ``scorecard check``, the status
of ``scorecard status``, the receipts and rejects workbooks intake writes.

- ``app.py``: ``create_app(settings)``, the application with its middleware and routes.
- ``passwords.py``: argon2id hashes. ``accounts.py``: users, roles and their sources.
- ``sessions.py``: server-side sessions (idle and absolute expiry, revocation).
- ``security.py``: CSRF tokens and the security headers on every response.
- ``audit.py``: the audit log of logins, uploads, submissions and downloads.
- ``links.py``: one-time set-password links (emailed). ``throttle.py``: slowing sign-in guesses.
- ``cli.py``: ``scorecard serve`` and ``scorecard users add|disable|list|reset``.
- ``web.py``: the template environment, the signed-in user of a request, the navigation per role.
- ``returns.py``: each return's state (received, late, missing) against its source's due date.
- ``uploads.py``: a file streamed to a private folder with the size limit, checked as intake would.
- ``submissions.py``: a checked file put into the inbox, and the load and receipt intake made of it.
- ``commentary.py``: the exceptions of the latest build awaiting a user's commentary (their first page).
- ``routes/commentary.py``: lead officers' commentary per quarter and indicator (``pipelines.commentary``
  keeps it): the analyst on any indicator, a data officer on their own sources' indicators.
- ``routes/``: one module of pages per job (sign-in, a data officer's returns, the board, the analyst).
"""
