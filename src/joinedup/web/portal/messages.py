"""My messages: the digital mailbox of the person acted for — every agency's letters in one
list, and a letter's page. Opening a letter the first time is its read receipt (legal
delivery), naming who opened it: the person, or whoever acts for them.

Only the subject's own mailbox is read: another person's letter id in the URL is "not
found", exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from joinedup import notify
from joinedup.core import i18n
from joinedup.core.pagination import PageRequest
from joinedup.web.auth import Citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import WriteSession, read_session
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import macro_words, render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal/messages",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
PAGE = 20


@router.get("")
def mailbox(
    request: Request,
    citizen: Citizen,
    unread: Annotated[bool, Query()] = False,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    # closed before the page is rendered (see read_session)
    with read_session(request) as session:
        citizen.authorise(session, "data:messages")
        page = notify.mailbox_page(
            session,
            recipient_code=citizen.subject_code,
            request=PageRequest(cursor=cursor, limit=PAGE),
            unread_only=unread,
        )
    query = {"unread": "true"} if unread else {}
    next_href = "?" + urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else None
    return render(
        request,
        "portal/messages.html",
        {
            "letters": page.letters,
            "kind_tags": (
                macro_words(i18n.current_locale(), "_portal.html", "letter_kind", _KINDS)
                if page.letters
                else {}
            ),
            "unread_only": unread,
            "unread_count": page.unread,
            "next_href": next_href,
        },
    )


#: Each kind of letter (the shared ``letter_kind`` macro writes its tag).
_KINDS = tuple(kind.value for kind in notify.LetterKind)


@router.get("/{message_id}")
def letter(
    request: Request, message_id: str, citizen: Citizen, session: WriteSession
) -> HTMLResponse:
    """The letter, opened by the signed-in person (the first opening is the read receipt)."""
    citizen.authorise_now(session, "data:messages")  # opening it is its read receipt
    opened = notify.open_letter(
        session,
        message_id=message_id[:64],
        recipient_code=citizen.subject_code,
        reader_code=citizen.actor_code,
    )
    return render(
        request,
        "portal/letter.html",
        {"letter": opened, "by_you": opened.read_by == citizen.actor_code},
    )
