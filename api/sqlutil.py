"""Small SQL helpers: partial updates from whitelisted model fields."""

from __future__ import annotations

from typing import Any

from psycopg import sql


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
