"""Small SQL helpers: partial updates from whitelisted model fields, paged list queries."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import class_row

T = TypeVar("T")


def update_statement(table: str, key: str, changes: dict[str, Any]) -> sql.Composed:
    """``UPDATE table SET col = %(col)s, ..., updated_at = now() WHERE key = %(key)s``.

    Column names come from the request model's declared fields, never from the client.
    """
    sets: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(col), sql.Placeholder(col)) for col in changes
    ]
    sets.append(sql.SQL("updated_at = now()"))
    return sql.SQL("UPDATE {} SET {} WHERE {} = {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sets),
        sql.Identifier(key),
        sql.Placeholder("_key"),
    )


def fetch_page(
    conn: psycopg.Connection,
    list_sql: str,
    count_sql: str,
    params: dict[str, Any],
    row_type: type[T],
) -> tuple[list[T], int]:
    """One page of rows as ``row_type`` and the total count, from a list and a count query."""
    with conn.cursor(row_factory=class_row(row_type)) as cur:
        rows = cur.execute(list_sql, params).fetchall()
    total = conn.execute(count_sql, params).fetchone()
    return rows, total[0] if total else 0
