"""Offset pagination shared by the listing queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def page(
    db: AsyncSession, query: Select[T], *, limit: int, offset: int
) -> tuple[Sequence[T], int]:
    """One page of `query` and the total number of rows it matches."""
    total_query: Select[Any] = select(func.count()).select_from(query.order_by(None).subquery())
    total = (await db.execute(total_query)).scalar_one()
    rows = (await db.execute(query.limit(limit).offset(offset))).scalars().all()
    return rows, int(total)
