"""The body of a call: its media type (415), its size (413), and its JSON (400).

The size is checked against `Content-Length` before anything is read, and again while reading,
so a body that lies about its length (or is chunked) is cut off at the limit, never buffered whole.
"""

from __future__ import annotations

from starlette.requests import Request

from autobook.errors import InvalidRequest
from autobook.request_text import decode_json_document
from autobook.serve.problems import Refusal

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB
JSON_MEDIA_TYPE = "application/json"


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        shown = media_type[:60] or "none"
        raise Refusal(
            415,
            "Unsupported Media Type",
            f"send Content-Type: application/json (this call sent {shown})",
        )


def _too_large() -> Refusal:
    return Refusal(413, "Content Too Large", f"a body is at most {MAX_BODY_BYTES} bytes (1 MiB)")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes) -> object:
    """The JSON document in the body; 400 when it is not UTF-8 JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "Bad Request", "the body is not UTF-8 text") from None
    try:
        return decode_json_document(text)
    except InvalidRequest as exc:
        raise Refusal(400, "Bad Request", f"the body is not JSON: {exc.message}"[:300]) from None
