"""Who is calling: the source behind an API key or a signature, and whether it may call now.

- A bearer key is found by its digest; no key, an unknown key and a removed or rotated one are
  all the same 401 (a stranger learns nothing about which keys exist).
- A signed call names its source with `?source=NAME`; the signature is checked over the raw
  body once it is read (`verify_signature`), and a `webhook-id` seen before is refused.
- The rate limit is counted after the caller is known: for an API key before the body is read
  (in the same hop as the lookup: `serve.admission`), for a signature once it verified (a
  stranger who knows a source's name can't spend its rate).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from autobook.models import IntakeSourceRow, SourceAuth
from autobook.serve.admission import Knock
from autobook.serve.context import IntakeContext
from autobook.serve.problems import Refusal, unauthorized
from autobook.sources.guards import RateVerdict
from autobook.sources.sealing import SealingError
from autobook.sources.signatures import SignatureRefused, SignedRequest, verify

BEARER_PREFIX = "bearer "
NO_CREDENTIALS = (
    "no credentials: send Authorization: Bearer <key>, or sign the request as the source's "
    "scheme says and name the source with ?source=NAME"
)
BAD_KEY = "the key is not valid (unknown, rotated or removed)"


@dataclass(frozen=True)
class Caller:
    """A source, as much of it as a call needs (detached from any session)."""

    source_id: int
    name: str
    auth: SourceAuth
    rate_per_minute: int
    secret_sealed: str | None
    mapping_yaml: str | None

    @classmethod
    def of(cls, row: IntakeSourceRow) -> Caller:
        return cls(
            row.id,
            row.name,
            row.auth,
            row.rate_per_minute,
            row.secret_sealed,
            row.mapping_yaml,
        )

    @property
    def signs(self) -> bool:
        return self.auth is not SourceAuth.API_KEY


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[: len(BEARER_PREFIX)].lower() != BEARER_PREFIX:
        return None
    return header[len(BEARER_PREFIX) :].strip() or None


async def _identify(
    request: Request, ctx: IntakeContext, *, count: bool
) -> tuple[Caller, RateVerdict | None]:
    key = _bearer(request)
    name = request.query_params.get("source")
    if key is None and not name:
        raise unauthorized(NO_CREDENTIALS)
    admission = await ctx.admissions.admit(Knock(key, name, count=count))
    row = admission.source
    if key is not None:
        if row is None:
            raise unauthorized(BAD_KEY)
    elif row is None or row.auth is SourceAuth.API_KEY:
        # An unknown name, or a key source called without its key: the same answer for both.
        raise unauthorized(NO_CREDENTIALS)
    return Caller.of(row), admission.verdict


async def identify(request: Request, ctx: IntakeContext) -> Caller:
    """The calling source, or a 401."""
    caller, _ = await _identify(request, ctx, count=False)
    return caller


async def identify_counted(
    request: Request, ctx: IntakeContext
) -> tuple[Caller, RateVerdict | None]:
    """The calling source (or a 401) and, for an API-key call, the call counted in the same hop.

    The verdict is None for a signing source: its call is counted once the signature verified.
    """
    return await _identify(request, ctx, count=True)


async def check_rate(caller: Caller, ctx: IntakeContext) -> None:
    verdict = await ctx.run(
        ctx.guards.count_call, caller.source_id, caller.rate_per_minute, ctx.clock()
    )
    refuse_over_rate(caller, verdict)


def refuse_over_rate(caller: Caller, verdict: RateVerdict) -> None:
    """A 429 with `Retry-After` when the source spent its calls for this minute."""
    if not verdict.allowed:
        raise Refusal(
            429,
            "Too Many Requests",
            f"this source may make {caller.rate_per_minute} calls a minute; "
            f"retry in {verdict.retry_after_seconds}s",
            headers={"Retry-After": str(verdict.retry_after_seconds)},
        )


def _signed(request: Request, body: bytes) -> SignedRequest:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return SignedRequest(request.method, str(request.url), body, headers)


async def verify_signature(
    request: Request, caller: Caller, body: bytes, ctx: IntakeContext
) -> str | None:
    """Check a signing source's signature and refuse a replay; the delivery id remembered."""
    if not caller.signs:
        return None
    if caller.secret_sealed is None:
        raise unauthorized("this source has no secret; rotate it")
    try:
        secret = ctx.sealer.unseal(caller.secret_sealed)
    except SealingError:
        raise Refusal(
            503, "Service Unavailable", "the source secrets key is missing or wrong"
        ) from None
    now = ctx.clock()
    try:
        delivery_id = verify(caller.auth, secret, _signed(request, body), now)
    except SignatureRefused as exc:
        raise unauthorized(f"bad signature: {exc.message}") from None
    if delivery_id is not None:
        first = await ctx.run(ctx.guards.first_delivery, caller.source_id, delivery_id[:255], now)
        if not first:
            raise unauthorized("replayed delivery: this webhook-id was accepted before")
    return delivery_id
