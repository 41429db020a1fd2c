"""`/v1/files`: upload, list, read and delete documents (docs/protocols/rest.md, "Knowledge").

The upload is `multipart/form-data` with the document in the field `file`. Its kind is
sniffed from its bytes (a PDF is a PDF whatever it is called), and a file over
`PARLEY_MAX_UPLOAD_BYTES` is a 413 before it is stored. Deleting a file removes every
document made from it, and their passages.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from fastapi import APIRouter, Response, UploadFile
from fastapi.responses import FileResponse

from parley.knowledge.extract import CONTENT_TYPES, ExtractionFailed, sniff
from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.files import delete_file, file_path
from parley.server.openapi import errors
from parley.server.schemas.common import Limit, Offset, Page
from parley.server.schemas.knowledge import FileOut

router = APIRouter(prefix="/v1/files", tags=["knowledge"])


@router.post("", status_code=201, response_model=FileOut, responses=errors(415))
async def upload_file(file: UploadFile, account: AccountDep, found: ServicesDep) -> FileOut:
    limit = found.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"files may be at most {limit} bytes")
    if not data:
        raise ApiError(400, "bad_request", "file: the upload is empty")
    name = (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"
    if not name.isprintable():
        raise ApiError(400, "bad_request", "file: the file name has control characters")
    try:
        kind = sniff(data, name)
    except ExtractionFailed as exc:
        raise ApiError(415, "unsupported_media_type", f"file: {exc}") from None
    stored = await found.store.knowledge.add_file(
        account.id,
        name=name,
        kind=kind,
        content_type=CONTENT_TYPES[kind],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    path = file_path(found.settings, stored.id)
    await asyncio.to_thread(_write, path, data)
    return FileOut.of(stored)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@router.get("", response_model=Page[FileOut])
async def list_files(
    account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[FileOut]:
    files, total = await found.store.knowledge.files(account.id, limit=limit, offset=offset)
    return Page(data=[FileOut.of(f) for f in files], total=total, limit=limit, offset=offset)


@router.get("/{file_id}", response_model=FileOut)
async def get_file(file_id: str, account: AccountDep, found: ServicesDep) -> FileOut:
    file = await found.store.knowledge.file(account.id, file_id)
    if file is None:
        raise not_found("file", file_id)
    return FileOut.of(file)


@router.get("/{file_id}/content", response_class=FileResponse)
async def file_content(file_id: str, account: AccountDep, found: ServicesDep) -> FileResponse:
    file = await found.store.knowledge.file(account.id, file_id)
    if file is None:
        raise not_found("file", file_id)
    path = file_path(found.settings, file.id)
    if not path.is_file():
        raise ApiError(404, "not_found", f"the content of file {file_id!r} is missing")
    return FileResponse(path, media_type=file.content_type, filename=file.name)


@router.delete("/{file_id}", status_code=204)
async def remove_file(file_id: str, account: AccountDep, found: ServicesDep) -> Response:
    if not await found.store.knowledge.delete_file(account.id, file_id):
        raise not_found("file", file_id)
    delete_file(found.settings, file_id)
    return Response(status_code=204)
