"""The transparency log over HTTP: signed tree heads, proofs and entries, read-only.

The read session is :data:`joinedup.core.http.ReadSession`, as in every API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from joinedup.core.http import ReadSession
from joinedup.core.keys import VerifyingKey, load_log_signing_key
from joinedup.core.pagination import DEFAULT_LIMIT, Page, PageRequest
from joinedup.core.settings import Settings, get_settings
from joinedup.core.translog import service
from joinedup.core.translog.schemas import (
    ConsistencyProofOut,
    EntryOut,
    InclusionProofOut,
    TreeHeadOut,
)

router = APIRouter(prefix="/api/v1/log", tags=["transparency log"])


def public_key_dependency(request: Request) -> VerifyingKey:
    """The public half of the key that signs tree heads (loaded once per application)."""
    key = getattr(request.app.state, "log_verifying_key", None)
    if not isinstance(key, VerifyingKey):
        settings = getattr(request.app.state, "settings", None)
        if not isinstance(settings, Settings):
            settings = get_settings()
        key = load_log_signing_key(settings).verifying_key
        request.app.state.log_verifying_key = key
    return key


LogSession = ReadSession


@router.get("/tree-head", summary="The latest signed tree head")
def get_tree_head(session: LogSession) -> TreeHeadOut:
    return TreeHeadOut.of(service.tree_head_at(session))


@router.get(
    "/public-key",
    summary="The public key that signs tree heads (PEM)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def get_public_key(
    key: Annotated[VerifyingKey, Depends(public_key_dependency)],
) -> PlainTextResponse:
    return PlainTextResponse(
        key.to_pem(), media_type="application/x-pem-file", headers={"X-Key-Id": key.key_id}
    )


@router.get("/proof/inclusion", summary="Inclusion proof of one entry in a signed tree")
def get_inclusion_proof(
    session: LogSession,
    index: Annotated[int, Query(description="Index of the entry (0-based).")],
    tree_size: Annotated[
        int | None, Query(description="Size of a signed tree head (default: the latest).")
    ] = None,
) -> InclusionProofOut:
    return InclusionProofOut.of(service.inclusion_proof(session, index=index, tree_size=tree_size))


@router.get("/proof/consistency", summary="Consistency proof between two signed trees")
def get_consistency_proof(
    session: LogSession,
    first: Annotated[int, Query(description="Size of the older signed tree head.")],
    second: Annotated[
        int | None, Query(description="Size of the newer signed tree head (default: latest).")
    ] = None,
) -> ConsistencyProofOut:
    return ConsistencyProofOut.of(service.consistency_proof(session, first=first, second=second))


@router.get("/entries", summary="Entries in index order (keyset pagination)")
def list_entries(
    session: LogSession,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(description="Entries per page (1–500).")] = DEFAULT_LIMIT,
) -> Page[EntryOut]:
    page = service.list_entries(session, request=PageRequest(cursor=cursor, limit=limit))
    return Page[EntryOut](
        items=[EntryOut.of(entry) for entry in page.items], next_cursor=page.next_cursor
    )
