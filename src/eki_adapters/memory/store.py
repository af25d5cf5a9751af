"""The committed state of the in-memory adapters, shared by every unit of work made from
one store. Its own module: the repositories read it and the unit of work publishes into it,
so neither imports the other (``eki_adapters.memory.uow.InMemoryStore`` adds the factory)."""

from __future__ import annotations

import asyncio
import itertools

from eki_adapters.memory.alerts import AlertsState
from eki_adapters.memory.broadcasts import BroadcastsState
from eki_adapters.memory.consent import ConsentState
from eki_adapters.memory.guardians import GuardianState
from eki_adapters.memory.messaging import MessagingState
from eki_adapters.memory.outbound import TemplatesState
from eki_adapters.memory.privacy import PrivacyState
from eki_adapters.memory.progress import SchoolState
from eki_adapters.memory.staff import StaffState
from eki_adapters.memory.staff_inbox import StaffInboxState
from eki_domain.model.student import Student
from eki_domain.ports.imports import FailedRows, ImportRecord
from eki_domain.ports.llm import UsageRecord


class StoreState:
    """The committed state shared by every unit of work of one store."""

    def __init__(self) -> None:
        self.students: dict[int, Student] = {}
        self.by_phone: dict[str, int] = {}
        self.next_id = 1
        self.lock = asyncio.Lock()
        self.import_history: list[ImportRecord] = []
        self.import_failed_rows: dict[int, FailedRows] = {}
        self.import_ids = itertools.count(1)
        self.messaging = [MessagingState()]  # a one-item list: commits swap the state
        self.school = [SchoolState()]
        self.usage_records: list[UsageRecord] = []
        self.staff_state = [StaffState()]
        self.guardian_state = [GuardianState()]
        self.templates_state = [TemplatesState()]
        self.consent_state = [ConsentState()]
        self.privacy_state = [PrivacyState()]
        self.staff_inbox_state = [StaffInboxState()]
        self.broadcasts_state = [BroadcastsState()]
        self.alerts_state = [AlertsState()]
