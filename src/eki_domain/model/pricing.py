"""What language-model calls cost: a price table in dollars per million tokens.

The defaults are gpt-4o-mini's list prices (input $0.15, cached input $0.075, output $0.60 per
million tokens). The model name is configuration, so the table is too: build one with
:meth:`PriceTable.parse` from a setting such as ``"gpt-4o-mini=0.15/0.075/0.60"``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Final

import attrs

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable"]

_MILLION: Final = 1_000_000


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class ModelPrice:
    """Dollars per million tokens: input, cached input and output."""

    input_per_million: float = attrs.field(converter=float, validator=_non_negative)
    cached_input_per_million: float = attrs.field(converter=float, validator=_non_negative)
    output_per_million: float = attrs.field(converter=float, validator=_non_negative)

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """``(prompt - cached)·input + cached·cached_input + completion·output`` in dollars.

        ``cached_tokens`` are part of ``prompt_tokens`` (as the OpenAI usage reports them).
        """
        prompt = max(0, prompt_tokens)
        cached = min(max(0, cached_tokens), prompt)
        completion = max(0, completion_tokens)
        return (
            (prompt - cached) * self.input_per_million
            + cached * self.cached_input_per_million
            + completion * self.output_per_million
        ) / _MILLION


def _freeze(prices: Mapping[str, ModelPrice]) -> Mapping[str, ModelPrice]:
    return types.MappingProxyType({name.strip().casefold(): p for name, p in prices.items()})


@attrs.frozen
class PriceTable:
    """Prices per model name. A dated snapshot (``gpt-4o-mini-2024-07-18``) is priced as the
    longest name it starts with (``gpt-4o-mini``); a model the table does not know costs 0
    (check :meth:`knows` to warn about it)."""

    prices: Mapping[str, ModelPrice] = attrs.field(converter=_freeze, eq=False, hash=False)

    def price_for(self, model: str) -> ModelPrice | None:
        name = model.strip().casefold()
        found = self.prices.get(name)
        if found is not None:
            return found
        prefixes = [key for key in self.prices if name.startswith(key)]
        return self.prices[max(prefixes, key=len)] if prefixes else None

    def knows(self, model: str) -> bool:
        return self.price_for(model) is not None

    def cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> float:
        price = self.price_for(model)
        if price is None:
            return 0.0
        return price.cost(prompt_tokens, completion_tokens, cached_tokens)

    def with_price(self, model: str, price: ModelPrice) -> PriceTable:
        return PriceTable({**self.prices, model: price})

    @classmethod
    def parse(cls, spec: str, *, base: PriceTable | None = None) -> PriceTable:
        """``"gpt-4o-mini=0.15/0.075/0.60; gpt-4.1-mini=0.40/0.10/1.60"`` (input/cached/output
        per million tokens) added to ``base`` (the defaults unless given)."""
        table = DEFAULT_PRICES if base is None else base
        for item in spec.split(";"):
            if not item.strip():
                continue
            name, sep, numbers = item.partition("=")
            parts = numbers.split("/")
            if not sep or not name.strip() or len(parts) != 3:
                raise ValueError(
                    f"bad price {item.strip()!r}: expected model=input/cached_input/output"
                )
            try:
                price = ModelPrice(*(float(part) for part in parts))
            except ValueError:
                raise ValueError(
                    f"bad price {item.strip()!r}: prices must be numbers >= 0"
                ) from None
            table = table.with_price(name, price)
        return table


#: gpt-4o-mini list prices (USD per million tokens).
DEFAULT_PRICES: Final = PriceTable({"gpt-4o-mini": ModelPrice(0.15, 0.075, 0.60)})
