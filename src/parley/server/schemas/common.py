"""Shapes shared by every resource: pages and pagination parameters."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1 to 100).")]
MAX_OFFSET = 2**31 - 1  # far past any real listing, and well inside every database's integers
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
