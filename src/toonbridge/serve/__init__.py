"""The web page and REST API (``toonbridge serve``); needs the ``serve`` extra (FastAPI, uvicorn, python-multipart)."""
