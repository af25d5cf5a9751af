"""In-memory staff directory, API tokens, setup links and audit log (tests, library users).

The state is staged like the other in-memory repositories: a unit of work that does not
commit leaves no trace, audit entries included (as in a database transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from eki_adapters.memory.staging import Staged
from eki_domain.errors import DuplicateStaffEmail
from eki_domain.model.audit import AuditEntry, AuditFilter
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.staff import ApiToken, Role, SetupLink, StaffMember


@attrs.define
class StaffState:
    members: dict[int, StaffMember] = attrs.Factory(dict)
    tokens: dict[int, ApiToken] = attrs.Factory(dict)
    links: dict[int, SetupLink] = attrs.Factory(dict)
    audit: list[AuditEntry] = attrs.Factory(list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class InMemoryStaffDirectory:
    def __init__(self, staged: Staged[StaffState]) -> None:
        self._staged = staged

    async def add(self, member: StaffMember) -> StaffMember:
        state = self._staged.state
        if any(m.email == member.email for m in state.members.values()):
            raise DuplicateStaffEmail(member.email)
        stored = attrs.evolve(member, id=state.new_id())
        state.members[stored.id or 0] = stored
        return attrs.evolve(stored)

    async def save(self, member: StaffMember) -> None:
        if member.id is None or member.id not in self._staged.state.members:
            raise LookupError(f"no staff member with id {member.id}")
        self._staged.state.members[member.id] = attrs.evolve(member)

    async def get(self, staff_id: int) -> StaffMember | None:
        found = self._staged.state.members.get(staff_id)
        return None if found is None else attrs.evolve(found)

    async def get_by_email(self, email: str) -> StaffMember | None:
        for member in self._staged.state.members.values():
            if member.email == email:
                return attrs.evolve(member)
        return None

    async def list(self) -> Sequence[StaffMember]:
        return [attrs.evolve(m) for m in
                sorted(self._staged.state.members.values(), key=lambda m: m.email)]

    async def count_active_admins(self) -> int:
        return sum(1 for m in self._staged.state.members.values()
                   if m.active and m.role is Role.ADMIN)


class InMemoryApiTokens:
    def __init__(self, staged: Staged[StaffState]) -> None:
        self._staged = staged

    async def add(self, token: ApiToken) -> ApiToken:
        state = self._staged.state
        stored = attrs.evolve(token, id=state.new_id())
        state.tokens[stored.id or 0] = stored
        return stored

    async def get(self, token_id: int) -> ApiToken | None:
        return self._staged.state.tokens.get(token_id)

    async def find(self, token_hash: str) -> ApiToken | None:
        return next((t for t in self._staged.state.tokens.values()
                     if t.token_hash == token_hash), None)

    async def list_for(self, staff_id: int) -> Sequence[ApiToken]:
        return sorted((t for t in self._staged.state.tokens.values() if t.staff_id == staff_id),
                      key=lambda t: (t.created_at, t.id or 0), reverse=True)

    async def revoke(self, token_id: int, at: datetime) -> bool:
        token = self._staged.state.tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self._staged.state.tokens[token_id] = attrs.evolve(token, revoked_at=at)
        return True

    async def touch(self, token_id: int, at: datetime) -> None:
        token = self._staged.state.tokens.get(token_id)
        if token is not None:
            self._staged.state.tokens[token_id] = attrs.evolve(token, last_used_at=at)


class InMemorySetupLinks:
    def __init__(self, staged: Staged[StaffState]) -> None:
        self._staged = staged

    async def add(self, link: SetupLink) -> SetupLink:
        state = self._staged.state
        for key, old in list(state.links.items()):
            if old.staff_id == link.staff_id and old.used_at is None:
                state.links[key] = attrs.evolve(old, used_at=link.created_at)
        stored = attrs.evolve(link, id=state.new_id())
        state.links[stored.id or 0] = stored
        return stored

    async def find(self, token_hash: str) -> SetupLink | None:
        return next((link for link in self._staged.state.links.values()
                     if link.token_hash == token_hash), None)

    async def use(self, link_id: int, at: datetime) -> bool:
        link = self._staged.state.links.get(link_id)
        if link is None or link.used_at is not None:
            return False
        self._staged.state.links[link_id] = attrs.evolve(link, used_at=at)
        return True


def _matches(entry: AuditEntry, where: AuditFilter) -> bool:
    return ((where.actor is None or entry.actor == where.actor)
            and (where.action is None or entry.action == where.action)
            and (where.target_type is None or entry.target_type == where.target_type)
            and (where.target_id is None or entry.target_id == where.target_id)
            and (where.since is None or entry.at >= where.since)
            and (where.until is None or entry.at < where.until))


class InMemoryAuditLog:
    def __init__(self, staged: Staged[StaffState]) -> None:
        self._staged = staged

    async def append(self, entry: AuditEntry) -> None:
        state = self._staged.state
        state.audit.append(attrs.evolve(entry, id=state.new_id()))

    async def list(self, where: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        found = [e for e in self._staged.state.audit if _matches(e, where)]
        found.sort(key=lambda e: (e.at, e.id or 0), reverse=True)
        return Page(items=tuple(found[page.offset:page.offset + page.limit]),
                    total=len(found), limit=page.limit, offset=page.offset)

    async def times_of(self, action: str, *, since: datetime, target_id: str | None = None,
                       ip: str | None = None, limit: int = 100) -> Sequence[datetime]:
        times = sorted(e.at for e in self._staged.state.audit
                       if e.action == action and e.at >= since
                       and (target_id is None or e.target_id == target_id)
                       and (ip is None or e.ip == ip))
        return times[-limit:]
