"""The web view: a second front end beside `view/`, in a browser on 127.0.0.1.

`store.py` (`CallStore`) is a tap subscriber that keeps the calls by their `CallNumbers`
number (the latest, within `window.py`'s bound) and answers the page's questions (a page
of calls under a filter, one call whole, the summary); `feed.py` hands live updates to each
browser through a bounded queue; `guard.py` checks the token, Host and Origin of every
request; `app.py` is the starlette app and `server.py` runs it with uvicorn on the caller's
event loop. A call is sent again only through `resend.Resender`, which the command
supplies: this package never imports a carrier or replay.
"""
