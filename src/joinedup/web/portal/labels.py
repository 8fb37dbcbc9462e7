"""Words for the registries' field names, as the portal shows them.

A page of "Who used my data" names a few fields for each of its records: looking the one
label up and translating it is far cheaper than a template macro building every translated
label for each field shown. ``N_`` marks the words for extraction; they are translated when
shown, in the request's language; a list of records looks them up in :func:`field_labels`,
every label translated once per language.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from joinedup.core import i18n


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name for "mark only")
    """Mark ``message`` for translation without translating it (pybabel extracts it)."""
    return message


FIELD_LABELS: dict[str, str] = {
    "personalCode": N_("personal code"),
    "givenNames": N_("given names"),
    "familyName": N_("family name"),
    "birthDate": N_("date of birth"),
    "birthPlace": N_("place of birth"),
    "sex": N_("sex"),
    "citizenship": N_("citizenship"),
    "residenceAddress": N_("address"),
    "address": N_("address"),
    "dateOfDeath": N_("date of death"),
    "parents": N_("parents"),
    "children": N_("children"),
    "partners": N_("spouses and partners"),
    "municipalityCode": N_("municipality"),
    "residentSince": N_("living there since"),
    "monthlyTotals": N_("monthly income"),
    "total": N_("total income"),
    "employerCode": N_("employer's code"),
    "employerName": N_("employer"),
    "startDate": N_("start of employment"),
    "endDate": N_("end of employment"),
    "iban": N_("payment account"),
    "validFrom": N_("start date"),
    "validTo": N_("end date"),
    "registrationCode": N_("registration code"),
    "businessName": N_("business name"),
    "role": N_("role in a business"),
    "deregisteredOn": N_("deregistration"),
    "employments": N_("employments"),
    "representations": N_("roles in businesses"),
    "month": N_("month"),
    "kind": N_("kind"),
    "endReason": N_("why it ended"),
}


def field_label(name: str) -> str:
    """The field ``name`` in words, in the current language (the name itself if unknown)."""
    label = FIELD_LABELS.get(name)
    return i18n.gettext(label) if label else name


@lru_cache(maxsize=16)  # one per language (the catalogues are read once, as i18n reads them)
def field_labels(locale: str) -> Mapping[str, str]:
    """Every known field's label in ``locale``, by field name: a page naming many fields
    looks each up (an unknown name stands for itself) rather than translating it again."""
    catalogue = i18n.translations(locale)
    labels = {name: catalogue.gettext(label) for name, label in FIELD_LABELS.items()}
    return MappingProxyType(labels)
