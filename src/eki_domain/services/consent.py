"""Consent before data: the answers people write, the ledger records a decision makes, and
:class:`ConsentDesk`, what other features ask (``lacking_consent``) and the conversation's
gate uses (docs/privacy.md).

The gate itself runs inside the conversation turn
(:class:`~eki_domain.services.conversation.ConversationService`): the consent state of every
claimed sender is read with the claim, in the same transaction, so it costs one statement
per claim and no unit of work per turn.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final, Protocol

import attrs

from eki_domain.model.consent import (
    ConsentDecision,
    ConsentMedium,
    ConsentPolicy,
    ConsentRecord,
    ConsentRole,
)
from eki_domain.model.phone import phone_candidates
from eki_domain.ports.clock import Clock
from eki_domain.ports.consent import ConsentLedger
from eki_domain.ports.guardians import Guardians
from eki_domain.ports.repositories import StudentRepository, Transaction
from eki_domain.services import consent_texts
from eki_domain.services.lexicon import normalize_text
from eki_domain.services.understanding import detect_language

__all__ = ["KEEP_QUESTION_FOR", "ConsentAnswer", "ConsentDesk", "ConsentStep",
           "ConsentUnitOfWork",
           "ConsentView", "answered_in_english", "consent_answer", "consent_records"]

#: A question asked before consenting is answered after ACEPTO if it is this recent.
KEEP_QUESTION_FOR: Final = timedelta(hours=24)


class ConsentAnswer(enum.StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    REVOKE = "revoke"


_FILLER: Final = frozenset({"ok", "okay", "oka", "si", "yes", "gracias", "thanks", "thank",
                            "you", "por", "favor", "please", "listo", "vale", "bueno", "yo",
                            "hola", "hi", "hello", "eki"})
_PHRASES: Final[dict[str, ConsentAnswer]] = {
    **{p: ConsentAnswer.ACCEPT for p in (
        "acepto", "aceptar", "acepta", "aceptamos", "autorizo", "autorizamos", "accept",
        "i accept", "accepted", "agree", "i agree", "acepto los terminos",
        "acepto la politica", "de acuerdo", "estoy de acuerdo", "acepto y autorizo")},
    **{p: ConsentAnswer.REFUSE for p in (
        "no acepto", "no aceptar", "no autorizo", "no aceptamos", "no lo acepto",
        "no estoy de acuerdo", "rechazo", "decline", "i decline", "do not accept",
        "i do not accept", "don t accept", "i don t accept", "no accept", "not accept",
        "i do not agree", "i don t agree", "disagree")},
    **{p: ConsentAnswer.REVOKE for p in (
        "revocar", "revoco", "revoke", "i revoke", "revocar autorizacion",
        "revoco mi autorizacion", "revoco la autorizacion", "revocar consentimiento",
        "retiro mi autorizacion", "retiro la autorizacion", "withdraw consent",
        "revoke consent", "revocar mi autorizacion")},
}


_ENGLISH: Final = frozenset({
    "accept", "i accept", "accepted", "agree", "i agree", "decline", "i decline",
    "do not accept", "i do not accept", "don t accept", "i don t accept", "no accept",
    "not accept", "i do not agree", "i don t agree", "disagree", "revoke", "i revoke",
    "withdraw consent", "revoke consent"})


def _answer_key(text: str) -> str | None:
    """The phrase the last line of ``text`` says, as a key of ``_PHRASES`` (None: none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    words = normalize_text(lines[-1]).split()
    if len(words) > 8:
        return None
    for key in (" ".join(words), " ".join(w for w in words if w not in _FILLER)):
        if key in _PHRASES:
            return key
    return None


def consent_answer(text: str) -> ConsentAnswer | None:
    """What the last line of ``text`` answers to the consent notice: "ACEPTO", "sí, acepto",
    "NO ACEPTO", "REVOCAR", "I accept"… (None: it is something else)."""
    key = _answer_key(text)
    return None if key is None else _PHRASES[key]


def answered_in_english(text: str) -> bool:
    """The answer is an English phrase ("I accept", "decline")."""
    return _answer_key(text) in _ENGLISH


@attrs.frozen
class ConsentView:
    """A known sender's consent, read with the claim: ``phone`` is the E.164 the ledger
    keeps them under, ``decision`` their latest decision under the current version (None:
    never asked), ``guardian`` whether they write as a guardian."""

    phone: str
    decision: ConsentDecision | None
    guardian: bool = False

    @property
    def granted(self) -> bool:
        return self.decision is ConsentDecision.GRANTED


@attrs.frozen
class ConsentStep:
    """What the gate does with a known sender's turn: ``reply``; add ``decision`` to the
    ledger; keep or forget their question; after ACEPTO, ``answer_kept`` (the question asked
    before) is answered right away, after ``reply``."""

    intent: str
    reply: str
    decision: ConsentDecision | None = None
    keep_question: str | None = None
    forget_question: bool = False
    answer_kept: str | None = None


class ConsentUnitOfWork(Transaction, Protocol):
    @property
    def consents(self) -> ConsentLedger: ...

    @property
    def students(self) -> StudentRepository: ...

    @property
    def guardians(self) -> Guardians: ...


async def consent_records(uow: ConsentUnitOfWork, candidates: Sequence[str], *,
                          decision: ConsentDecision, medium: ConsentMedium, version: str,
                          decided_at: datetime, recorded_at: datetime,
                          message_id: str | None = None,
                          recorded_by: str | None = None) -> list[ConsentRecord]:
    """The ledger rows of one decision by the person behind ``candidates`` (E.164 forms
    of one phone): one for their own record as a student, and one per linked child when
    they are a guardian. [] when the phone is nobody's."""
    (student,) = await uow.students.find_each_by_phones([candidates])
    guardian = await uow.guardians.find_by_phones(candidates)
    rows: list[ConsentRecord] = []

    def row(phone: str, role: ConsentRole, student_id: int | None,
            guardian_id: int | None) -> ConsentRecord:
        return ConsentRecord(phone=phone, role=role, decision=decision, medium=medium,
                             policy_version=version, decided_at=decided_at,
                             recorded_at=recorded_at, student_id=student_id,
                             guardian_id=guardian_id, message_id=message_id,
                             recorded_by=recorded_by)

    if student is not None and student.id is not None:
        rows.append(row(student.phone.e164, ConsentRole.STUDENT, student.id, None))
    if guardian is not None and guardian.id is not None and guardian.active:
        phone = guardian.phone.e164
        links = await uow.guardians.links_of_guardian(guardian.id)
        rows.extend(row(phone, ConsentRole.GUARDIAN, link.student_id, guardian.id)
                    for link in links)
        if not links:
            rows.append(row(phone, ConsentRole.GUARDIAN, None, guardian.id))
    return rows


class ConsentDesk:
    """The school's consent policy and the ledger, for the conversation and other features
    (broadcasts and alerts skip :meth:`lacking_consent`)."""

    def __init__(self, uow: Callable[[], ConsentUnitOfWork], clock: Clock,
                 policy: ConsentPolicy) -> None:
        self._uow = uow
        self._clock = clock
        self.policy = policy

    async def lacking_consent(self, phones: Iterable[str],
                              ledger: ConsentLedger | None = None) -> set[str]:
        """The E.164 phones of ``phones`` without a current consent (never asked, refused or
        withdrawn under the current policy version); empty when consent is not required.
        ``ledger``: read it in the caller's unit of work (one already open) instead of a
        new one."""
        wanted = list(dict.fromkeys(phones))
        if not self.policy.required or not wanted:
            return set()
        if ledger is not None:
            current = await ledger.current_among(wanted, self.policy.version)
        else:
            async with self._uow() as uow:
                current = await uow.consents.current_among(wanted, self.policy.version)
        return {phone for phone in wanted if current.get(phone) is not ConsentDecision.GRANTED}

    async def history(self, candidates: Sequence[str]) -> list[ConsentRecord]:
        """Every decision recorded under any of ``candidates``, oldest first."""
        async with self._uow() as uow:
            found: list[ConsentRecord] = []
            for phone in dict.fromkeys(candidates):
                found.extend(await uow.consents.history(phone))
        return sorted(found, key=lambda r: (r.recorded_at, r.id or 0))

    async def kept_question(self, phone: str) -> str | None:
        """The question ``phone`` asked before consenting (at most a day old)."""
        async with self._uow() as uow:
            return await uow.consents.kept_question(phone,
                                                    self._clock.now() - KEEP_QUESTION_FOR)

    async def gate(self, consent: ConsentView, text: str, answer: ConsentAnswer | None
                   ) -> ConsentStep | None:
        """Consent before data: ACEPTO / NO ACEPTO are recorded; anything else from someone
        without consent gets the notice (their question is kept) or, after a refusal, a
        short reminder. None: the sender consented and wrote something else (it passes)."""
        policy = self.policy
        if answer is ConsentAnswer.ACCEPT:
            english = answered_in_english(text)
            if consent.granted:
                return ConsentStep("consent_granted",
                                   consent_texts.already_granted(english=english))
            kept = await self.kept_question(consent.phone)
            english = english or (kept is not None and detect_language(kept) == "en")
            return ConsentStep("consent_granted", consent_texts.accepted(
                policy, english=english, question=kept is not None),
                ConsentDecision.GRANTED, forget_question=True, answer_kept=kept)
        if answer is ConsentAnswer.REFUSE:
            return ConsentStep("consent_refused", consent_texts.refused(
                policy, english=answered_in_english(text)), ConsentDecision.REFUSED,
                forget_question=True)
        if consent.granted:
            return None
        english = bool(text) and detect_language(text) == "en"
        if consent.decision is None:  # never asked under this version: the full notice
            return ConsentStep("consent_required", consent_texts.notice(
                policy, english=english, guardian=consent.guardian),
                keep_question=text or None)
        return ConsentStep("consent_required", consent_texts.reminder(policy, english=english))

    async def record_turn(self, uow: ConsentUnitOfWork, phone: str, wa_id: str, *,
                          decision: ConsentDecision | None, keep_question: str | None,
                          forget_question: bool, message_id: str | None,
                          now: datetime) -> int:
        """A conversation turn's consent effects, in the turn's transaction: the kept
        question, and the ledger rows of ``decision`` (returns how many)."""
        if forget_question:
            await uow.consents.forget_question(phone)
        elif keep_question:
            await uow.consents.keep_question(phone, keep_question[:1000], now)
        if decision is None:
            return 0
        rows = await consent_records(
            uow, (phone, *phone_candidates(wa_id)), decision=decision,
            medium=ConsentMedium.WHATSAPP, version=self.policy.version, decided_at=now,
            recorded_at=now, message_id=message_id)
        await uow.consents.append(*rows)
        return len(rows)
