"""Where call recordings live: one stereo WAV per session (caller left, agent right) under
`PARLEY_RECORDINGS_DIR`, or `recordings/` in the data directory.

Served by `GET /v1/sessions/{id}/recording` and `GET /api/calls/{id}/recording`, and deleted
with the session. A recording is written when its conversation closes, so a live call has
none yet; the answer says which of these a missing recording is.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi.responses import FileResponse

from parley.config import Settings
from parley.server.errors import ApiError
from parley.store.tables import Session


def recording_path(settings: Settings, session_id: str) -> Path:
    directory = settings.recordings_dir or settings.data_dir / "recordings"
    return directory / f"{session_id}.wav"


def recording_response(settings: Settings, session: Session) -> FileResponse:
    """The session's recording as `audio/wav`, or a 404 that says why there is none."""
    if not session.recording:
        raise ApiError(404, "not_found", "recording was not enabled for this session")
    path = recording_path(settings, session.id)
    if not path.is_file():
        if session.status == "active":
            raise ApiError(404, "not_found", "the recording is written when the call ends")
        raise ApiError(404, "not_found", "the recording is missing (it could not be written)")
    return FileResponse(path, media_type="audio/wav", filename=f"{session.id}.wav")


def delete_recording(settings: Settings, session_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        recording_path(settings, session_id).unlink()
