"""`eki chat`: talk to EKI as a student, through the real pipeline.

Each line becomes an inbox message on the ``cli`` channel (so a running `eki serve`
never picks it up), is answered by the same conversation service, and the reply goes
through the outbox to a console channel that hands the text back here.
"""

from __future__ import annotations

import json
import uuid

import attrs

from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import Eki

CHANNEL = "cli"


@attrs.frozen
class ChatAnswer:
    reply: str
    intent: str | None
    tools: tuple[str, ...]
    about: str | None = None  # E.164 of the student the answer is about


class ChatSession:
    def __init__(self, eki: Eki, channel: ConsoleChannel, wa_id: str, label: str) -> None:
        self.eki = eki
        self.channel = channel
        self.wa_id = wa_id
        self.label = label

    @classmethod
    async def open(cls, eki: Eki, channel: ConsoleChannel, phone: str) -> ChatSession:
        number = eki.registration.parse_phone(phone)
        student = await eki.registration.find_or_none(phone)
        async with eki.uow() as uow:
            guardian = await uow.guardians.find_by_phones(number.match_candidates())
        who = student.name if student else guardian.name if guardian else None
        label = f"{who} ({number.masked})" if who else f"{number.masked} (sin registro)"
        return cls(eki, channel, number.wa_id, label)

    async def say(self, text: str) -> ChatAnswer:
        message = IncomingMessage(
            channel=CHANNEL, provider_id=f"cli-{uuid.uuid4().hex}", wa_id=self.wa_id,
            type=MessageType.TEXT, sent_at=self.eki.clock.now(), text=text,
            raw=json.dumps({"from": self.wa_id, "text": {"body": text}}, ensure_ascii=False),
        )
        await self.eki.ingest.ingest(channel=CHANNEL, body=message.raw, messages=[message],
                                     statuses=[])
        intent: str | None = None
        tools: tuple[str, ...] = ()
        about: str | None = None
        outbound: list[int] = []
        while (result := await self.eki.conversation.process_next(channels=(CHANNEL,))):
            if result.wa_id == self.wa_id:
                intent, tools, about = result.intent, result.tools, result.about
                outbound.extend(result.outbound_ids)
        while await self.eki.delivery.dispatch_due(channels=(CHANNEL,)):
            pass
        replies: list[str] = []
        async with self.eki.uow() as uow:
            for message_id in outbound:
                reply = await uow.outbox.get(message_id)
                if reply is not None:
                    replies.append(reply.body)
        return ChatAnswer(reply="\n\n".join(replies), intent=intent, tools=tools, about=about)
