"""The digital mailbox's use cases, one module per topic; everything public is re-exported."""

from joinedup.notify.service.letters import deemed_delivered, send_letter, send_letters
from joinedup.notify.service.mailbox import (
    count_unread,
    get_letter,
    letter_status,
    list_letters,
    mailbox_page,
    open_letter,
)
from joinedup.notify.service.paper import (
    POSTAL_PURPOSE,
    FilePrintProvider,
    HttpPrintProvider,
    PrintJob,
    PrintProvider,
    PrintRun,
    paper_queue,
    print_provider,
    print_run,
)
from joinedup.notify.service.preferences import (
    delivery_preference,
    delivery_preferences,
    exempt_from_digital_post,
    preferred_locale,
    set_delivery_preference,
)

__all__ = [
    "POSTAL_PURPOSE",
    "FilePrintProvider",
    "HttpPrintProvider",
    "PrintJob",
    "PrintProvider",
    "PrintRun",
    "count_unread",
    "deemed_delivered",
    "delivery_preference",
    "delivery_preferences",
    "exempt_from_digital_post",
    "get_letter",
    "letter_status",
    "list_letters",
    "mailbox_page",
    "open_letter",
    "paper_queue",
    "preferred_locale",
    "print_provider",
    "print_run",
    "send_letter",
    "send_letters",
    "set_delivery_preference",
]
