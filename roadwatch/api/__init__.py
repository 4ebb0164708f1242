"""The HTTP API, /metrics and the live page, served from the pipeline's process (FastAPI on uvicorn).

Reads only the pipeline's status board (copies posted by the pipeline's thread) and changes sources only
through the pipeline's own thread-safe requests (add, remove): nothing here touches a stream's state.
"""

from roadwatch.api.server import HttpServer, StreamControl

__all__ = ["HttpServer", "StreamControl"]
