"""Where uploaded files live: one file per upload, named by its id, under
`PARLEY_FILES_DIR` (default `<data dir>/files`). The store holds what is known of it."""

from __future__ import annotations

import contextlib
from pathlib import Path

from parley.config import Settings


def file_path(settings: Settings, file_id: str) -> Path:
    directory = settings.files_dir or settings.data_dir / "files"
    return directory / file_id


def delete_file(settings: Settings, file_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        file_path(settings, file_id).unlink()
