"""A conversation turn: from a sender's pending messages to exactly one answer.

1. Claim the sender's pending messages (a lease, in a short transaction).
2. Read who the sender is and their state (opt-out, hand-off).
3. Decide — the assistant may take seconds; no transaction is open meanwhile.
4. In one transaction: apply the effects (opt-out, hand-off, number change; see
   :mod:`~eki_domain.services.turn_writes`), queue the reply in the outbox and mark the
   messages done — only if the claim still holds. A turn that writes nothing but its reply
   goes to the ``TurnEndWriter`` port (``bootstrap``: with the turns ending at the same
   instant, one statement).
A crash anywhere before 4 commits leaves the messages to be claimed again after the
lease, so each message is answered exactly once.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from eki_domain.model.codes import looks_like_code
from eki_domain.model.consent import ConsentDecision
from eki_domain.model.events import (
    HandoffReleased,
)
from eki_domain.model.messages import (
    MAX_MESSAGE_CHARS,
    MEDIA_TYPES,
    ClaimedBatch,
    InboxItem,
    MessageType,
    OutboundMessage,
    TurnEnd,
    split_message,
)
from eki_domain.model.phone import mask_phone, phone_candidates
from eki_domain.model.schedule import BusinessHours, describe_moment
from eki_domain.model.student import Student
from eki_domain.ports.alerts import AlertOptOuts
from eki_domain.ports.assistant import Assistant, StudentToolbox, Turn
from eki_domain.ports.clock import Clock
from eki_domain.ports.consent import ConsentLedger
from eki_domain.ports.conversations import Handoffs, OptOuts
from eki_domain.ports.guardians import Guardians
from eki_domain.ports.loaders import TurnEndWriter
from eki_domain.ports.messaging import Inbox
from eki_domain.ports.repositories import StudentRepository, Transaction
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.services.alert_commands import (
    command_confirmation,
    parse_alert_command,
)
from eki_domain.services.codes import CodeDesk
from eki_domain.services.consent import (
    ConsentAnswer,
    ConsentDesk,
    ConsentView,
    answered_in_english,
    consent_answer,
)
from eki_domain.services.consent_texts import revoked
from eki_domain.services.family_texts import about_prefix, no_handoff
from eki_domain.services.flood import FLOOD_NOTICE, FloodGuard, FloodVerdict
from eki_domain.services.intents import Intent, detect_intent
from eki_domain.services.loaders import UowTurnEndWriter
from eki_domain.services.messagebus import MessageBus
from eki_domain.services.responder import (
    handoff_confirmation,
    media_reply,
    opt_in_confirmation,
    opt_out_confirmation,
    unknown_sender_reply,
    unsupported_reply,
)
from eki_domain.services.subject import FamilyDesk, SubjectToolbox
from eki_domain.services.turn_writes import TurnDecision, record_side_effects, turn_events

log = logging.getLogger("eki.conversation")

#: Longest text handed to the assistant; longer messages are cut (cost and abuse guard).
MAX_INPUT_CHARS = 1000
TEXT_TYPES = frozenset({MessageType.TEXT, MessageType.INTERACTIVE, MessageType.BUTTON})
#: The intent recorded for turns of a sender over the flood limit.
FLOOD_INTENT = "flood_limited"


@attrs.frozen
class TurnResult:
    wa_id: str
    student_id: int | None
    intent: str | None
    replies: tuple[str, ...]
    tools: tuple[str, ...]
    outbound_ids: tuple[int, ...]
    completed: bool  # False: the claim was lost, another worker answers
    about: str | None = None  # E.164 of the student the answer is about


@attrs.frozen
class Sender:
    student: Student | None
    phone: str  # the student's E.164, else the best reading of the wa_id
    opted_out: bool
    paused: bool  # a hand-off is open: a person answers
    #: The phone is a guardian's (read with the claim); True when not looked up.
    guardian: bool = True
    #: A known sender's consent (read with the claim); None: unknown, or no consent desk.
    consent: ConsentView | None = None


@attrs.frozen
class ClaimedTurn:
    """A sender's claimed messages and who the sender is: the input of a turn."""

    batch: ClaimedBatch
    sender: Sender


async def sender_states(uow: _SenderStates, senders: Sequence[tuple[str, int | None]]
                        ) -> list[tuple[bool, bool]]:
    """(opted out, bot paused by an open hand-off) of each (phone, student id): two
    look-ups, whatever the number of senders."""
    opted = await uow.opt_outs.opted_out_among([phone for phone, _ in senders])
    paused = await uow.handoffs.paused_among([sid for _, sid in senders if sid is not None])
    return [(phone in opted, sid is not None and sid in paused) for phone, sid in senders]


class _SenderStates(Protocol):
    @property
    def opt_outs(self) -> OptOuts: ...

    @property
    def handoffs(self) -> Handoffs: ...


class TurnUnitOfWork(_SenderStates, Transaction, Protocol):
    """What a conversation turn needs of a unit of work (``SqlUnitOfWork`` and
    ``InMemoryUnitOfWork`` are one)."""

    @property
    def students(self) -> StudentRepository: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def guardians(self) -> Guardians: ...

    @property
    def consents(self) -> ConsentLedger: ...

    @property
    def alert_opt_outs(self) -> AlertOptOuts: ...


class ConversationService:
    def __init__(
        self,
        uow: Callable[[], TurnUnitOfWork],
        clock: Clock,
        assistant: Assistant,
        tools: Callable[[int], StudentToolbox],
        *,
        lease: timedelta = timedelta(seconds=120),
        max_attempts: int = 5,
        max_reply_chars: int = MAX_MESSAGE_CHARS,
        telemetry: Telemetry = NO_TELEMETRY,
        flood: FloodGuard | None = None,
        bus: MessageBus | None = None,
        families: FamilyDesk | None = None,
        codes: CodeDesk | None = None,
        business_hours: BusinessHours | None = None,
        consent: ConsentDesk | None = None,
        turn_ends: TurnEndWriter | None = None,
    ) -> None:
        self._uow = uow
        #: Where a turn that writes nothing but its replies is recorded (``bootstrap``
        #: wires one that records the turns ending in one instant together).
        self._turn_ends = turn_ends if turn_ends is not None else UowTurnEndWriter(uow)
        #: Consent before data (docs/privacy.md); None: no gate, REVOCAR is not special.
        self._consent = consent
        #: A hand-off asked for outside these hours is told when someone will answer.
        self._business_hours = business_hours
        self._clock = clock
        self._assistant = assistant
        self._tools = tools
        self._lease = lease
        self._max_attempts = max_attempts
        #: Longest outbox row: longer answers are split (the channel's limit, e.g. Twilio's
        #: 1600 characters; WhatsApp's 4096 otherwise).
        self._max_reply_chars = min(max_reply_chars, MAX_MESSAGE_CHARS)
        self._telemetry = telemetry
        self._flood = flood
        self._bus = bus if bus is not None else MessageBus()
        self._families = families
        self._codes = codes

    def _after_hours_note(self) -> str:
        """Outside business hours: when someone of the school will answer ("" inside)."""
        hours = self._business_hours
        now = self._clock.now()
        if hours is None or hours.is_open(now):
            return ""
        opening = hours.next_opening(now)
        today = now.astimezone(hours.zone).date()
        return ("\n\nAhora estamos fuera del horario de atención; una persona del colegio te "
                f"responderá {describe_moment(opening, hours.zone, today=today)}.")

    def with_tools(self, tools: Callable[[int], StudentToolbox]) -> ConversationService:
        """The same service with another toolbox per student (the demo's tool log,
        tracing); this one is unchanged."""
        other = copy.copy(self)
        other._tools = tools
        return other

    async def release_handoff(self, student_id: int, *, by: str) -> bool:
        """Give the conversation back to the bot; False if none was open."""
        async with self._uow() as uow:
            released = await uow.handoffs.release_handoff(student_id, self._clock.now(), by)
            await uow.commit()
        if released:
            await self._bus.publish(HandoffReleased(student_id=student_id, by=by))
        return released

    async def recover(self, live_owners: Collection[str] | None = None, *,
                      owner: str | None = None, answering: Collection[str] = ()) -> int:
        """Put back messages whose worker died mid-turn (claimed by a worker not in
        ``live_owners``, or their lease expired) and, with ``owner``, that worker's own
        claims for senders it is not ``answering`` (turns whose end it could not record)."""
        async with self._uow() as uow:
            count = await uow.inbox.recover_expired(self._clock.now(), live_owners=live_owners)
            if owner is not None:
                count += await uow.inbox.release_orphans(owner, answering)
            await uow.commit()
        if count:
            log.warning("%d message(s) left by a stopped worker are pending again", count)
        return count

    async def process_next(self, *, channels: Sequence[str] | None = None
                           ) -> TurnResult | None:
        """Claim and answer the next sender's messages; None when the inbox is empty."""
        claimed = await self.claim_turns(1, channels=channels)
        return await self.run_turn(claimed[0]) if claimed else None

    async def claim_turns(self, limit: int, *, channels: Sequence[str] | None = None,
                          owner: str | None = None) -> list[ClaimedTurn]:
        """Claim the pending messages of up to ``limit`` senders (oldest first) and read
        who each sender is, in one short transaction. Answer each with :meth:`run_turn`
        (concurrently if you like: each sender is claimed by one worker at a time)."""
        async with self._uow() as uow:
            batches = await uow.inbox.claim_many(self._clock.now(), self._lease, limit,
                                                 channels=channels, owner=owner)
            if not batches:
                return []
            # Who is writing, read in the claim's transaction for every sender at once.
            senders = await self._identify(uow, [batch.wa_id for batch in batches])
            claimed = [ClaimedTurn(batch, sender)
                       for batch, sender in zip(batches, senders, strict=True)]
            await uow.commit()
        return claimed

    async def run_turn(self, claimed: ClaimedTurn) -> TurnResult:
        """Answer a claimed sender; on failure the messages are given back for a later
        retry (failed after ``max_attempts``) and the error propagates."""
        batch = claimed.batch
        try:
            return await self._turn(batch, claimed.sender)
        except Exception:
            log.exception("turn failed for %s; retrying later", mask_phone(batch.wa_id))
            now = self._clock.now()
            attempts = max(item.attempts for item in batch.items) + 1
            async with self._uow() as uow:
                await uow.inbox.release(batch, now, retry_at=now + timedelta(seconds=5 * attempts),
                                        max_attempts=self._max_attempts)
                await uow.commit()
            raise

    async def handle(self, batch: ClaimedBatch) -> TurnResult:
        """Answer an already claimed batch."""
        async with self._uow() as uow:
            (sender,) = await self._identify(uow, [batch.wa_id])
        return await self._turn(batch, sender)

    async def _identify(self, uow: TurnUnitOfWork, wa_ids: Sequence[str]) -> list[Sender]:
        """Who each sender is and their state, in a constant number of look-ups (whether
        a phone is a guardian's too, when families are on: one more)."""
        candidates = [phone_candidates(wa_id) or ("+" + wa_id,) for wa_id in wa_ids]
        found = await uow.students.find_each_by_phones(candidates)
        guardian_phones: frozenset[str] | None = None
        if self._families is not None:
            guardian_phones = frozenset(await uow.guardians.phones_among(
                [phone for options in candidates for phone in options]))
        phones = [student.phone.e164 if student else options[0]
                  for student, options in zip(found, candidates, strict=True)]
        states = await sender_states(
            uow, [(phone, student.id if student else None)
                  for phone, student in zip(phones, found, strict=True)])
        consents = await self._consents(uow, found, candidates, guardian_phones)
        return [Sender(student, phone, opted_out, paused,
                       guardian=guardian_phones is None or bool(guardian_phones & set(options)),
                       consent=consent)
                for student, phone, (opted_out, paused), options, consent
                in zip(found, phones, states, candidates, consents, strict=True)]

    async def _consents(self, uow: TurnUnitOfWork, found: Sequence[Student | None],
                        candidates: Sequence[Sequence[str]],
                        guardian_phones: frozenset[str] | None) -> list[ConsentView | None]:
        """Each known sender's consent under the current policy: one look-up for all."""
        desk = self._consent
        if desk is None:
            return [None] * len(found)
        people: list[tuple[str, bool] | None] = []
        for student, options in zip(found, candidates, strict=True):
            guardian = next((p for p in options if p in (guardian_phones or ())), None)
            person = student.phone.e164 if student is not None else guardian
            people.append(None if person is None else (person, guardian is not None))
        decisions: dict[str, ConsentDecision] = {}
        if desk.policy.required and any(people):
            decisions = await uow.consents.current_among(
                [person for person, _ in filter(None, people)], desk.policy.version)
        return [None if who is None else ConsentView(who[0], decisions.get(who[0]), who[1])
                for who in people]

    async def _turn(self, batch: ClaimedBatch, sender: Sender) -> TurnResult:
        flood = FloodVerdict.OK
        if self._flood is not None:
            flood = await self._flood.admit(batch.wa_id, len(batch.items), self._clock.now())
            if flood is FloodVerdict.NOTICE:
                self._telemetry.sender_rate_limited()
                log.warning("sender %s is over the flood limit; no assistant until the "
                            "window passes", mask_phone(batch.wa_id))
        decision = await self._decide(batch.items, sender.student, guardian=sender.guardian,
                                      opted_out=sender.opted_out,
                                      paused=sender.paused, flood=flood,
                                      consent=sender.consent)
        student = None if decision.guardian_turn else sender.student
        return await self._commit(batch, student, sender.phone, decision)

    async def _decide(self, items: Sequence[InboxItem], student: Student | None, *,
                      opted_out: bool, paused: bool, guardian: bool = True,
                      flood: FloodVerdict = FloodVerdict.OK,
                      consent: ConsentView | None = None) -> TurnDecision:
        messages = [item.message for item in items]
        changed = next((m for m in messages if m.type is MessageType.SYSTEM
                        and m.system_type == "user_changed_number"), None)
        decision = await self._reply(items, student, opted_out=opted_out, paused=paused,
                                     guardian=guardian,
                                     flood=flood, consent=consent)
        if changed is None:
            return decision
        return attrs.evolve(decision, number_change=changed.new_wa_id,
                            flag_number_change=True)

    async def _reply(self, items: Sequence[InboxItem], student: Student | None, *,
                     opted_out: bool, paused: bool, guardian: bool = True,
                     flood: FloodVerdict = FloodVerdict.OK,
                     consent: ConsentView | None = None) -> TurnDecision:
        messages = [item.message for item in items]
        texts = [m.text.strip() for m in messages
                 if m.text and m.text.strip()
                 and (m.type in TEXT_TYPES or m.type in MEDIA_TYPES)]
        payload = next((m.payload for m in reversed(messages) if m.payload), None)
        media = next((m for m in messages if m.type in MEDIA_TYPES | {
            MessageType.LOCATION, MessageType.CONTACTS} and not (m.text or "").strip()), None)
        unsupported = any(m.type in (MessageType.UNSUPPORTED, MessageType.UNKNOWN,
                                     MessageType.ORDER) for m in messages)
        text = "\n".join(texts)[:MAX_INPUT_CHARS]

        if flood is not FloodVerdict.OK and detect_intent(text, payload) not in (
                Intent.OPT_IN, Intent.OPT_OUT):
            notice = flood is FloodVerdict.NOTICE and not (opted_out or paused)
            return TurnDecision(intent=FLOOD_INTENT, replies=(FLOOD_NOTICE,) if notice else ())
        if not text and payload is None:
            if opted_out or paused or not (media or unsupported):
                return TurnDecision(intent=None)  # reactions, system events, silence
            if student is None:
                return TurnDecision(intent="unknown_sender", replies=(unknown_sender_reply(),),)
            if media is not None:
                return TurnDecision(intent="media", replies=(
                    media_reply(str(media.type), media.is_voice),))
            return TurnDecision(intent="unsupported", replies=(unsupported_reply(),))

        command = parse_alert_command(text) if payload is None else None
        if command is not None:  # an explicit command, read before the classifier (BAJA too)
            return TurnDecision(intent="alerts_on" if command.enable else "alerts_off",
                             replies=() if opted_out else (command_confirmation(command),),
                             alerts=command)
        intent = detect_intent(text, payload)
        answer = consent_answer(text) if consent is not None else None
        if intent is Intent.OPT_IN and answer is None:
            return TurnDecision(intent=str(intent), replies=(opt_in_confirmation(),), opt_in=True)
        if consent is not None and answer is ConsentAnswer.REVOKE:  # withdraws, like BAJA
            return TurnDecision(intent="consent_withdrawn", replies=(revoked(
                english=answered_in_english(text)),), opt_out=True,
                consent=ConsentDecision.WITHDRAWN, consent_phone=consent.phone)
        if opted_out:
            return TurnDecision(intent=str(intent))  # silence until ALTA/START
        if intent is Intent.OPT_OUT and answer is None:  # "NO ACEPTO" is no BAJA
            return TurnDecision(intent=str(intent), replies=(opt_out_confirmation(),),
                             opt_out=True)
        accepted: TurnDecision | None = None
        if (consent is not None and self._consent is not None and not paused
                and self._consent.policy.required):
            step = await self._consent.gate(consent, text, answer)
            if step is not None:
                gate = TurnDecision(intent=step.intent, replies=(step.reply,),
                                 consent=step.decision, consent_phone=consent.phone,
                                 keep_question=step.keep_question,
                                 forget_question=step.forget_question)
                if step.answer_kept is None:
                    return gate  # the notice, a refusal, or ACEPTO with nothing kept
                accepted, text, payload = gate, step.answer_kept, None  # ACEPTO: answer
                intent = detect_intent(text, payload)  # the question kept for it
        decision = await self._answer(items, student, text, payload, intent, paused=paused,
                                      guardian=guardian)
        if accepted is None:
            return decision
        return attrs.evolve(decision, replies=accepted.replies + decision.replies,
                            consent=accepted.consent, consent_phone=accepted.consent_phone,
                            forget_question=True)

    async def _answer(self, items: Sequence[InboxItem], student: Student | None, text: str,
                      payload: str | None, intent: Intent, *, paused: bool,
                      guardian: bool) -> TurnDecision:
        """Everything after opt-out and consent: families, codes, hand-offs, the
        assistant."""
        if self._families is not None and not paused and guardian:
            family = await self._family_turn(items[0].message.wa_id, student, text, payload,
                                             intent)
            if family is not None:
                return family
        if student is None and self._codes is not None and looks_like_code(text):
            return TurnDecision(intent="verification_code", replies=(
                await self._codes.redeem(items[0].message.wa_id, text),))
        if student is None or student.id is None:
            return TurnDecision(intent="unknown_sender", replies=(unknown_sender_reply(),))
        if paused:
            return TurnDecision(intent="handoff_paused")  # a person answers meanwhile
        if intent is Intent.HUMANO:
            return TurnDecision(intent=str(intent), replies=(
                handoff_confirmation() + self._after_hours_note(),), handoff=True)
        toolbox = self._tools(student.id)
        reply = await self._assistant.answer(Turn(student=student, text=text, payload=payload),
                                             toolbox)
        return TurnDecision(intent=reply.intent,
                         replies=tuple(split_message(reply.text, self._max_reply_chars)),
                         tools=reply.tools, about=student.phone.e164)

    async def _family_turn(self, wa_id: str, student: Student | None, text: str,
                           payload: str | None, intent: Intent) -> TurnDecision | None:
        """A guardian's turn (see :mod:`eki_domain.services.subject`); None: not a guardian,
        or a student writing about themself."""
        assert self._families is not None
        party = await self._families.party(wa_id, student)
        if party is None:
            return None
        plan = self._families.plan(party, text, intent)
        if plan.subject is not None and plan.subject.link is None and plan.reply is None:
            await self._families.remember(party, plan.memory)
            return None  # the sender's own record: the student path answers
        about = plan.subject.student.phone.e164 if plan.subject is not None else None
        if intent is Intent.HUMANO and plan.reply is None:  # hand-offs are per student
            return TurnDecision(intent="handoff_guardian", replies=(no_handoff(),), about=about,
                             guardian_turn=True)
        if plan.reply is not None:
            await self._families.remember(party, plan.memory)
            return TurnDecision(intent=plan.intent, replies=(plan.reply,), about=about,
                             guardian_turn=True)
        assert plan.subject is not None
        toolbox = SubjectToolbox(party.options, plan.subject, self._tools)
        guardian = party.guardian.first_name if plan.subject.link is not None else None
        reply = await self._assistant.answer(
            Turn(student=plan.subject.student, text=plan.text, payload=payload,
                 guardian=guardian), toolbox)
        subject = toolbox.current
        memory = plan.memory
        if subject is not plan.subject:  # the model selected another child
            memory = attrs.evolve(memory, student_id=subject.student.id,
                                  chosen_at=self._clock.now())
        await self._families.remember(party, memory)
        body = reply.text if subject.link is None else (
            about_prefix(subject.student.first_name) + reply.text)
        return TurnDecision(intent=reply.intent,
                         replies=tuple(split_message(body, self._max_reply_chars)),
                         tools=reply.tools, about=subject.student.phone.e164,
                         guardian_turn=subject.link is not None)

    async def _commit(self, batch: ClaimedBatch, student: Student | None, phone: str,
                      decision: TurnDecision) -> TurnResult:
        now = self._clock.now()
        last = batch.items[-1].message
        quoted = any(item.message.context_id for item in batch.items)
        sid = student.id if student else None
        replies = tuple(OutboundMessage(
            to=batch.wa_id, body=text, created_at=now, channel=last.channel, student_id=sid,
            inbound_id=batch.items[-1].id,
            reply_to=last.provider_id if quoted and index == 0 else None,
            mark_read=last.provider_id if index == 0 else None,
            intent=decision.intent, tools=decision.tools,
        ) for index, text in enumerate(decision.replies))
        consent_rows = 0
        if decision.replies_only and len(batch.items) == 1:  # the usual turn
            completed = await self._turn_ends.finish(TurnEnd(
                batch=batch, at=now, student_id=sid, intent=decision.intent, replies=replies))
        else:
            async with self._uow() as uow:
                consent_rows = await record_side_effects(uow, self._consent, batch, student,
                                                   phone, decision, now)
                completed = await uow.inbox.complete(
                    batch, now, student_id=sid, intent=decision.intent, replies=replies)
                await (uow.commit() if completed else uow.rollback())
        if not completed:
            log.warning("lost the claim on %s's messages; another worker answers them",
                        mask_phone(batch.wa_id))
        outbound_ids = [m.id for m in replies if m.id is not None] if completed else []
        if completed:
            self._report(batch, decision, now)
            await self._bus.publish(*turn_events(student, decision, outbound_ids, consent_rows))
        log.info("turn %s: %d message(s), intent=%s, tools=%s, replies=%d",
                 mask_phone(batch.wa_id), len(batch.items), decision.intent,
                 ",".join(decision.tools) or "-", len(decision.replies))
        return TurnResult(wa_id=batch.wa_id, student_id=student.id if student else None,
                          intent=decision.intent, replies=decision.replies if completed else (),
                          tools=decision.tools, outbound_ids=tuple(outbound_ids),
                          completed=completed, about=decision.about)

    def _report(self, batch: ClaimedBatch, decision: TurnDecision, now: datetime) -> None:
        telemetry = self._telemetry
        for item in batch.items:
            telemetry.inbound_message(str(item.message.type))
        if decision.replies:
            oldest = min(item.message.sent_at for item in batch.items)
            telemetry.reply_queued(max(0.0, (now - oldest).total_seconds()))
        if decision.opt_out:
            telemetry.opt_out()
        if decision.handoff:
            telemetry.handoff()
