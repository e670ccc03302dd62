"""When electronic service took effect (人民法院在线诉讼规则 art. 29–31), as pure functions.

A document served on a channel is effective on that channel at the time it reached the system of an
electronic address the person gave or confirmed (art. 29, 31 ¶1). On an address the person did not
confirm, it becomes effective only when the person replies, signs or acts on it (art. 31 ¶2): the
earliest of their signature and their procedural acts in the case (a filing, a reply, …) made after the
copy reached them; until then that copy proves nothing. The act that made it effective is named. When the same document went out on several channels, the earliest
effective copy counts. Appeal and reply deadlines run from this time, so it must be exactly this rule:
no I/O here, so it can be tested as a table of cases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from gateway.adapters.model import ServiceChannel


class ServiceRule(StrEnum):
    """Which clause made a copy effective."""

    #: art. 29, 31 ¶1: reached the system of an electronic address the person gave or confirmed
    CONFIRMED_ADDRESS = "CONFIRMED_ADDRESS"
    #: art. 31 ¶2: an address not confirmed, effective when the person replied, signed or acted on it
    SIGNED_OR_ACTED = "SIGNED_OR_ACTED"


#: how the certificate states each rule (the rules' own wording, shortened)
RULE_TEXT = {
    ServiceRule.CONFIRMED_ADDRESS: "《人民法院在线诉讼规则》第二十九条、第三十一条第一款：送达信息到达受送达人确认的电子地址所在系统的时间为送达生效时间",
    ServiceRule.SIGNED_OR_ACTED: "《人民法院在线诉讼规则》第三十一条第二款：受送达人未确认电子地址的，以其回复、签收或作出相应诉讼行为的时间为送达生效时间",
}
#: when the same document went out on several channels
EARLIEST_TEXT = "同一文书通过多种渠道送达的，以最先生效的送达时间为准"


class ServiceCopy(Protocol):
    """What the rule reads of one channel's copy (``gateway.adapters.model.ServedDocument`` has it)."""

    @property
    def channel(self) -> ServiceChannel: ...

    @property
    def source_code(self) -> str: ...

    @property
    def served_at(self) -> datetime: ...

    @property
    def address_confirmed(self) -> bool: ...

    @property
    def signed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class ProceduralAct:
    """Something the person served did in the document's case (art. 31 ¶2 "作出相应诉讼行为")."""

    at: datetime
    #: what kind of act: FILING (a filing through the gateway: 答辩状, 代理词, evidence, an application)
    kind: str
    #: how the act is named to a reader (the filing's kind and title)
    description: str
    #: the gateway's own record of it (a filing's id)
    reference: str


@dataclass(frozen=True)
class EffectiveService:
    """The moment service took effect, on which channel under which rule, and the act that made it so
    (None: a confirmed address, or the person's signature)."""

    at: datetime
    channel: ServiceChannel
    source_code: str
    rule: ServiceRule
    act: ProceduralAct | None = None


def copy_effective(copy: ServiceCopy, acts: Iterable[ProceduralAct] = ()) -> EffectiveService | None:
    """When this one copy took effect, or None while it has not. ``acts``: the person's procedural acts in
    the case; only those made once the copy had reached them count (the earliest, a signature first on a
    tie)."""
    if copy.address_confirmed:
        return EffectiveService(copy.served_at, copy.channel, copy.source_code, ServiceRule.CONFIRMED_ADDRESS)
    candidates: list[tuple[datetime, int, ProceduralAct | None]] = (
        [] if copy.signed_at is None else [(copy.signed_at, 0, None)]
    )
    candidates += [(a.at, 1, a) for a in acts if a.at >= copy.served_at]
    if not candidates:
        return None
    at, _, act = min(candidates, key=lambda c: (c[0], c[1]))
    return EffectiveService(at, copy.channel, copy.source_code, ServiceRule.SIGNED_OR_ACTED, act)


def effective_service(copies: Iterable[ServiceCopy], acts: Iterable[ProceduralAct] = ()) -> EffectiveService | None:
    """The document's effective service: its earliest effective copy (the first listed on a tie), or None."""
    done = list(acts)
    effective = [e for e in (copy_effective(c, done) for c in copies) if e is not None]
    return min(effective, key=lambda e: e.at, default=None)
