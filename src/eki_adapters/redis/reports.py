"""The progress-report cache in Redis, shared by every process (a
:class:`~eki_domain.ports.progress.ReportCache`).

One hash per student (``{prefix}r:{student_id}``), one field per report variant; each value
is the cache generation, the time it was stored and the report as JSON
(:class:`~eki_adapters.redis.codec.AttrsJsonCodec`, never pickle). :meth:`invalidate`
deletes the students' hashes, so an import in one process reaches the others at once;
:meth:`clear` increments the generation (one command, however many entries), which turns
every older entry into a miss until it expires. An entry lives ``ttl`` seconds.

While Redis is unavailable :meth:`get` answers None (the report is computed) and
:meth:`put` stores nothing; an :meth:`invalidate` that fails is logged, and the entries it
missed expire within ``ttl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable

from eki_adapters.redis.client import FAILURES, RedisLink
from eki_adapters.redis.codec import AttrsJsonCodec
from eki_domain.model.progress import ProgressReport

# KEYS[1]: the student's hash; KEYS[2]: the generation. ARGV: field, stored at, payload, ttl ms
_PUT = """
local generation = redis.call('GET', KEYS[2]) or '0'
redis.call('HSET', KEYS[1], ARGV[1], generation .. '|' .. ARGV[2] .. '|' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return generation
"""


class RedisReportCache:
    """Reports per ``(student_id, variant)`` in Redis for ``ttl`` seconds."""

    def __init__(self, link: RedisLink, *, ttl: float = 300.0,
                 codec: AttrsJsonCodec[ProgressReport] | None = None,
                 timer: Callable[[], float] = time.time) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self._link = link
        self._codec = codec or AttrsJsonCodec(ProgressReport)
        self._timer = timer
        self._prefix = f"{link.prefix}r:"
        self._generation = f"{link.prefix}r-generation"
        self._put = link.client.register_script(_PUT)

    def _key(self, student_id: int) -> str:
        return f"{self._prefix}{int(student_id)}"

    @staticmethod
    def _field(variant: Hashable) -> str:
        return json.dumps(variant, default=str, separators=(",", ":"))

    async def get(self, student_id: int, variant: Hashable) -> object | None:
        if not self._link.available:
            return None
        try:
            async with self._link.client.pipeline(transaction=False) as pipe:
                pipe.get(self._generation)
                pipe.hget(self._key(student_id), self._field(variant))
                generation, stored = await pipe.execute()
        except FAILURES as exc:
            self._link.failed("computing every progress report", exc)
            return None
        if stored is None:
            return None
        try:
            entry_generation, stored_at, payload = bytes(stored).split(b"|", 2)
            if entry_generation != (generation or b"0"):
                return None
            if self._timer() - float(stored_at) >= self.ttl:
                return None
            return self._codec.decode(payload)
        except ValueError:
            return None  # written by another version, or damaged: compute it again

    async def put(self, student_id: int, variant: Hashable, value: object) -> None:
        if not self._link.available:
            return
        payload = self._codec.encode(value)
        try:
            await self._put(keys=[self._key(student_id), self._generation],
                            args=[self._field(variant), repr(self._timer()), payload,
                                  max(1, round(self.ttl * 1000))])
        except FAILURES as exc:
            self._link.failed("computing every progress report", exc)

    async def invalidate(self, student_ids: Iterable[int]) -> None:
        keys = sorted({self._key(student_id) for student_id in student_ids})
        if not keys:
            return
        try:
            for start in range(0, len(keys), 1000):  # bounded commands for huge imports
                await self._link.client.delete(*keys[start:start + 1000])
        except FAILURES as exc:
            self._link.failed(f"stale reports may be served for up to {self.ttl:g} s", exc)

    async def clear(self) -> None:
        try:
            await self._link.client.incr(self._generation)
        except FAILURES as exc:
            self._link.failed(f"stale reports may be served for up to {self.ttl:g} s", exc)
