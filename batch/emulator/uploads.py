"""Reading and checking submitted media (§2-3, §13 #15): raw uploads and URL submissions.

Rules:
- uploads need an exact Content-Length (400 without one, 413 above the limit before reading a byte), and a
  non-empty body;
- audio Content-Type may be absent, application/octet-stream, audio/wav, audio/wave, audio/mpeg or audio/mp3;
  any other type is a 400, and a named audio type must match the bytes;
- video needs Content-Type video/mp4 and mp4 bytes (the docs: "supports only mp4").
"""

from __future__ import annotations

from aiohttp import web

from batch.emulator.errors import BadRequest, PayloadTooLarge
from batch.emulator.media import MediaInfo

AUDIO_TYPES = {"audio/wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}
NEUTRAL_TYPES = frozenset({"", "application/octet-stream"})


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    length = request.content_length
    if length is None:
        raise BadRequest("Header 'Content-Length' is required: send the media with its exact size.")
    if length > max_bytes:
        raise PayloadTooLarge(f"Uploaded media is {length} bytes; the limit is {max_bytes} bytes.")
    if length == 0:
        raise BadRequest("The request body is empty: send the media bytes.")
    data = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        data += chunk
    return bytes(data)


def content_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


def check_audio(declared: str, info: MediaInfo) -> None:
    if declared in NEUTRAL_TYPES:
        return
    if declared not in AUDIO_TYPES:
        raise BadRequest(
            f"Unsupported Content-Type '{declared}' for audio: use audio/wav, audio/wave, audio/mpeg, "
            "audio/mp3, application/octet-stream, or omit it."
        )
    if AUDIO_TYPES[declared] != info.kind:
        raise BadRequest(f"Content-Type '{declared}' does not match the uploaded data (it looks like {info.kind}).")


def check_video(declared: str | None, info: MediaInfo) -> None:
    if declared is not None and declared != "video/mp4":
        raise BadRequest("Header 'Content-Type: video/mp4' is required: video uploads support only mp4.")
    if info.kind != "mp4":
        raise BadRequest("Video supports only mp4; the submitted data is not an mp4 file.")
