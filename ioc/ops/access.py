"""Who may do what: roles and commune scopes, shared by the API, the console and Telegram."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("operator", "technician", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: user name, role and commune scope (None = every commune)."""

    user_id: int
    name: str
    role: str
    communes: tuple[str, ...]
    token_id: int = 0

    @property
    def scope(self) -> list[str] | None:
        """Commune codes the caller may see, or None when unrestricted (SQL parameter)."""
        return list(self.communes) if self.communes else None

    def can(self, role: str) -> bool:
        """Whether the caller's role includes ``role``'s rights."""
        return RANK[self.role] >= RANK[role]

    def sees(self, commune: str | None) -> bool:
        """Whether an object of ``commune`` is visible to the caller."""
        return not self.communes or commune in self.communes
