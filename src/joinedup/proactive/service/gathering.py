"""Gathering a service's inputs through the exchange, and evaluating its rules.

Rules never touch the database: the owning agency's subsystem reads what the rules need from
the base registries through the exchange (every read a data-usage record with the purpose and
legal basis of its access right), and the rules compute. Only what the rules ask for is read:
the evaluation is run, the inputs it reports missing are read, and it is run again, until
nothing readable is missing. A household (the parents and their children) is read only for
services that concern the parents or decide per household.

A batch of life events may have its evaluations wait for the monthly incomes they ask for
(:meth:`Gatherer.note_incomes`): each stops where it first asks for one (:class:`ReadLater`),
the incomes every evaluation of the batch asked for are read together, in one bulk
``incomes`` call per range of months (:meth:`Gatherer.read_noted_incomes`), and the waiting
evaluations are run again, on them. The same incomes are read as one by one: those the rules
asked for, of the persons they asked about, for the months they asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog

from joinedup import identity, rules
from joinedup.catalogue import CatalogueService
from joinedup.core.errors import NotFound
from joinedup.exchange import (
    INCOMES,
    MAX_REFERENCES,
    PERSON_REFS,
    RELATIVES,
    ExchangeClient,
    LocalCallRefused,
)
from joinedup.proactive.reevaluation.law import ruleset_in_force

log = structlog.get_logger(__name__)

#: The registry services the gathering reads, by code (of the population and employment
#: registers' owners; the exchange resolves the provider).
PERSON, RESIDENCE, RELATIONS, INCOME = "person", "residence", "relations", "income-totals"

#: No date of death: what the rules assume for a living person (``date.max``).
ALIVE = "9999-12-31"
#: Evaluate, read what is missing, evaluate again: at most this many rounds.
_ROUNDS = 4
CONSENT_MISSING = "Client.ConsentMissing"

#: How deep a decision's explanation shows the values involved: the value decided in full
#: (formula, legal reference, conditions, computation, parameters), the values it was computed
#: from by their worth, and every value given that it rests on (``given``, with the groups:
#: the situation). Each step between follows from that situation under the ruleset version
#: recorded with the decision (``rules.situation_given``, explained again): kept with every
#: decision, the steps made the revisions' table 1.7 times as large (the benchmark's 500 life
#: events: 17.3 MB instead of 10.1 MB for 1,609 revisions).
DECISION_DEPTH = 1


class ConsentMissing(Exception):
    """The exchange refused a read: the person has not consented (nothing was read)."""


class ReadLater(Exception):
    """An evaluation stopped to wait for monthly incomes its batch reads together (noted:
    :meth:`Gatherer.note_incomes`); it is run again once they are read."""


@dataclass
class Facts:
    """What has been read about one person, in the rules' terms."""

    birth_date: str | None = None
    date_of_death: str | None = None
    resident: dict[str, bool] = field(default_factory=dict)
    monthly_income: dict[str, float] = field(default_factory=dict)
    relatives: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def situation(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.birth_date is not None:
            values["birth_date"] = {"ETERNITY": self.birth_date}
            values["date_of_death"] = {"ETERNITY": self.date_of_death or ALIVE}
        if self.resident:
            values["resident"] = dict(self.resident)
        if self.monthly_income:
            values["monthly_income"] = dict(self.monthly_income)
        return values


class Gatherer:
    """Reads about persons for one service owner and purpose, each fact once."""

    def __init__(
        self,
        calls: ExchangeClient,
        *,
        purpose: str,
        on: date,
        worked: rules.WorkedValues | None = None,
    ) -> None:
        self.calls = calls
        self.purpose = purpose
        self.on = on
        self.facts: dict[str, Facts] = {}
        #: The register references of the relatives read (personal code → reference): a
        #: decision that looked at a relative can tell the register's later events about them
        self.refs: dict[str, int] = {}
        #: How formula values were worked out, shared by the explanations this gatherer's
        #: evaluations write with the others of the caller's unit of work (``worked``: a
        #: batch's gatherers share one; :class:`joinedup.rules.WorkedValues`)
        self.worked = worked if worked is not None else rules.WorkedValues()
        #: While a batch notes the incomes its evaluations ask for (:meth:`note_incomes`):
        #: (first month, last month) → person → the months asked for
        self._noted: dict[tuple[str, str], dict[str, set[str]]] | None = None
        #: Whether an evaluation stopped to wait for a noted income (the caller resets it)
        self.waited = False

    def registry_service(self, service: str) -> str:
        """The exchange identifier of the registry service ``service`` (the registers'
        owners are read once per transaction: :func:`joinedup.identity.registry_service`)."""
        return identity.registry_service(self.calls.session, service)

    def _call(self, service: str, code: str, fields: list[str], **query: str) -> dict[str, Any]:
        try:
            answer = self.calls.call(
                self.registry_service(service),
                purpose=self.purpose,
                query={"personalCode": code, **query},
                fields=fields,
                on=self.on,
            )
        except LocalCallRefused as refused:
            if refused.error_type == CONSENT_MISSING:
                raise ConsentMissing(code) from refused
            raise
        return answer.body

    def of(self, code: str) -> Facts:
        return self.facts.setdefault(code, Facts())

    def on_day(self, day: date) -> Gatherer:
        """A gatherer for the same client and purpose reading the registers as on ``day``."""
        return Gatherer(self.calls, purpose=self.purpose, on=day, worked=self.worked)

    def read_person(self, code: str) -> None:
        body = self._call(PERSON, code, ["birthDate", "dateOfDeath"], asOf=self.on.isoformat())
        facts = self.of(code)
        facts.birth_date = body.get("birthDate")
        facts.date_of_death = body.get("dateOfDeath")

    def read_residence(self, code: str, months: list[str]) -> None:
        try:
            body = self._call(RESIDENCE, code, ["address"], asOf=self.on.isoformat())
            lives_here = body.get("address") is not None
        except NotFound:  # no residence known: not resident
            lives_here = False
        for month in months:
            self.of(code).resident[month] = lives_here

    def read_income(self, code: str, months: list[str]) -> None:
        ordered = sorted(months)
        months_asked = {"from": ordered[0], "to": ordered[-1]}
        body = self._call(INCOME, code, ["monthlyTotals"], **months_asked)
        self._incomes_read(code, ordered, body.get("monthlyTotals") or [])

    def _incomes_read(self, code: str, months: list[str], totals: list[dict[str, Any]]) -> None:
        """``code``'s income in each of ``months``, as read (a month not answered: none)."""
        facts = self.of(code)
        for month in months:
            facts.monthly_income.setdefault(month, 0.0)
        for total in totals:
            if total.get("month") in facts.monthly_income:
                facts.monthly_income[total["month"]] = int(total.get("amount") or 0) / 100

    def note_incomes(self) -> None:
        """From now on an evaluation that asks for monthly incomes not read yet stops
        (:class:`ReadLater`, :attr:`waited` set) and they are noted, to be read with those of
        every other evaluation of the batch (:meth:`read_noted_incomes`)."""
        self._noted = {}

    def wait_for_incomes(self, missing: list[dict[str, Any]]) -> bool:
        """While noting: note the monthly incomes ``missing`` asks for that are not read yet
        (each range of months asked for a person, as :meth:`fill` would read it); whether any
        was, so the evaluation waits."""
        if self._noted is None:
            return False
        noted = False
        for (code, variable), periods in _wanted(missing).items():
            if variable != "monthly_income":
                continue
            if all(p in self.of(code).monthly_income for p in periods):
                continue
            asked = (min(periods), max(periods))
            self._noted.setdefault(asked, {}).setdefault(code, set()).update(periods)
            noted = True
        self.waited = self.waited or noted
        return noted

    def read_noted_incomes(self, refs: Mapping[str, int]) -> None:
        """Stop noting, and read the incomes noted (of the persons whose register reference
        ``refs`` gives) in one bulk ``incomes`` call per range of months and
        :data:`~joinedup.exchange.MAX_REFERENCES` persons. One person alone, a person with
        no reference known, or a bulk read refused (a deployment that has not granted it, or
        a right resting on consent, which a bulk read is never answered under) is left to
        the single reads of the evaluations run again."""
        noted, self._noted = self._noted or {}, None
        ranges: dict[tuple[str, str], dict[int, tuple[str, list[str]]]] = {}
        for asked, of_persons in noted.items():
            for code, asked_months in of_persons.items():
                ref = refs.get(code)
                if ref is not None:
                    ranges.setdefault(asked, {})[ref] = (code, sorted(asked_months))
        if sum(len(persons) for persons in ranges.values()) < 2:
            return  # (one alone: the single read)
        for (first, last), persons in ranges.items():
            query = {"from": first, "to": last}
            read = self._bulk(INCOMES, list(persons), query, ["personRef", "monthlyTotals"])
            for ref, person in read:
                found = persons.get(ref)
                if found is not None:
                    code, months = found
                    self._incomes_read(code, months, person.get("monthlyTotals") or [])

    def _bulk(
        self, service: str, refs: list[int], query: Mapping[str, str], fields: list[str]
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Each person (register reference, what was read) the bulk registry service
        ``service`` answers about ``refs``, in one call per
        :data:`~joinedup.exchange.MAX_REFERENCES`. Refused (not granted, or a right resting on
        consent, which a bulk read is never answered under): logged
        (``<service>_ahead_refused``), and nothing more is read — the caller's single reads
        read the rest."""
        identifier = self.registry_service(service)
        for start in range(0, len(refs), MAX_REFERENCES):
            chunk = refs[start : start + MAX_REFERENCES]
            try:
                answer = self.calls.call(
                    identifier,
                    purpose=self.purpose,
                    query={PERSON_REFS: ",".join(map(str, chunk)), **query},
                    fields=fields,
                    on=self.on,
                )
            except LocalCallRefused as refused:
                log.warning(f"{service}_ahead_refused", error_type=refused.error_type)
                return
            for person in answer.body.get("persons") or []:
                yield int(person["personRef"]), person

    def relatives(self, code: str, kind: str) -> list[dict[str, Any]]:
        """The person's current ``parents`` or ``children`` (each with code and birth date)."""
        facts = self.of(code)
        if kind not in facts.relatives:
            body = self._call(RELATIONS, code, [kind], asOf=self.on.isoformat())
            facts.relatives[kind] = self._current(body.get(kind) or [])
        return facts.relatives[kind]

    def relatives_ahead(self, persons: Mapping[str, int], kind: str) -> None:
        """Read the ``kind`` of many persons (personal code → register reference) in one
        bulk ``relatives`` call per :data:`~joinedup.exchange.MAX_REFERENCES`, as
        :meth:`relatives` reads them one by one — for persons whose relatives are certain to
        be read (the caller's decision). Those already read are not asked again; a person the
        register does not know is left to :meth:`relatives`. Refused (a deployment that has
        not granted the bulk service, or a right that rests on consent, which a bulk read is
        never answered under): each is then read one by one, as before."""
        wanted = {ref: code for code, ref in persons.items() if kind not in self.of(code).relatives}
        if len(wanted) < 2:
            return  # (one alone: the single read)
        query = {"asOf": self.on.isoformat()}
        for ref, person in self._bulk(RELATIVES, list(wanted), query, ["personRef", kind]):
            code = wanted.get(ref)
            if code is not None:
                self.of(code).relatives[kind] = self._current(person.get(kind) or [])

    def _current(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The relations not ended by the day read (one that ends that day has ended); the
        relatives' register references noted (:attr:`refs`)."""
        for relative in found:
            if relative.get("personRef") is not None and relative.get("personalCode"):
                self.refs[str(relative["personalCode"])] = int(relative["personRef"])
        return [
            r for r in found if not r.get("validTo") or date.fromisoformat(r["validTo"]) > self.on
        ]

    def household(self, adults: list[str]) -> tuple[list[str], list[str]]:
        """The adults and every current child of theirs (children's birth dates noted)."""
        children: dict[str, None] = {}
        for adult in adults:
            for child in self.relatives(adult, "children"):
                code = str(child["personalCode"])
                if code in adults:
                    continue
                children[code] = None
                facts = self.of(code)
                if facts.birth_date is None and child.get("birthDate"):
                    # a current relation: the child is alive (a death ends relations)
                    facts.birth_date, facts.date_of_death = str(child["birthDate"]), None
        return adults, list(children)

    def fill(self, missing: list[dict[str, Any]]) -> bool:
        """Read what an evaluation reported missing; returns whether anything was read."""
        read = False
        for (code, variable), periods in sorted(_wanted(missing).items()):
            facts = self.of(code)
            if variable in ("birth_date", "date_of_death") and facts.birth_date is None:
                self.read_person(code)
            elif variable == "resident" and not all(p in facts.resident for p in periods):
                self.read_residence(code, periods)
            elif variable == "monthly_income" and not all(
                p in facts.monthly_income for p in periods
            ):
                self.read_income(code, periods)
            else:
                continue
            read = True
        return read


def _wanted(missing: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """What an evaluation reported missing about persons: (person, variable) → the periods."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for item in missing:
        if item["entity"] != "person":
            continue
        key = (str(item["id"]), str(item["variable"]))
        wanted.setdefault(key, []).append(str(item["period"]))
    return wanted


@dataclass(frozen=True)
class Evaluation:
    """A service's rules evaluated for one person."""

    due: bool
    amount: int | None
    reason: str
    explanation: dict[str, Any]
    ruleset_version: str


def _due(value: Any) -> tuple[bool, int | None]:
    if isinstance(value, bool):
        return value, None
    cents = round(float(value) * 100)
    return cents > 0, cents


def evaluate(
    gatherer: Gatherer,
    service: CatalogueService,
    *,
    person: str,
    adults: list[str] | None,
    children: list[str] | None,
    period: str,
    declared: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Evaluate ``service`` for ``person`` in the month ``period``, reading what its rules
    need (in a household of ``adults`` and ``children`` when given). ``declared``: inputs no
    register holds, as an applicant declared them (``{variable: value}`` for the month, of
    the person or of their household). ``ConsentMissing`` when the exchange refuses a read
    for want of consent; ``ReadLater`` when the gatherer notes the incomes asked for."""
    # the law in force: the ruleset with every parameter version published for it
    ruleset = ruleset_in_force(gatherer.calls.session, service.ruleset)
    own: dict[str, Any] = {}
    shared: dict[str, Any] = {}
    for name, value in (declared or {}).items():
        unit = ruleset.variable(name).period.value
        values = {"ETERNITY" if unit == "eternity" else period: value}
        (own if ruleset.variable(name).entity == "person" else shared)[name] = values

    def situation() -> dict[str, Any]:
        members = [*(adults or [person]), *(children or [])]
        data: dict[str, Any] = {
            "persons": {code: gatherer.of(code).situation() for code in members},
        }
        data["persons"][person].update(own)
        if adults is not None:
            data["households"] = {"h": {"adults": adults, "children": children or [], **shared}}
        return data

    question: dict[str, Any] = {
        "ruleset": ruleset,
        "variables": [service.variable],
        "period": rules.Period.parse(period),
        "entity": "person",
        "entity_id": person,
    }
    # each round asks what is missing without writing an explanation; the last evaluation,
    # on everything read, is explained once
    evaluated = rules.evaluate_situation(data=situation(), **question)
    for _ in range(_ROUNDS):
        missing = evaluated.missing
        if missing and gatherer.wait_for_incomes(missing):
            raise ReadLater  # (run again once the batch's incomes are read)
        if not missing or not gatherer.fill(missing):
            break
        evaluated = rules.evaluate_situation(data=situation(), **question)
    explanation = evaluated.explain(gatherer.worked)
    document = explanation.as_dict(depth=DECISION_DEPTH)
    due, amount = _due(document["results"][0]["value"])
    sentences = document["sentences"]
    reason = " ".join(sentences[1:2]) or sentences[0]
    verdict = explanation.verdict()
    if verdict is not None and verdict.sentence() == reason:
        # its parts, so that a letter or page can put it in the reader's language
        document["verdict"] = verdict.as_dict()
    return Evaluation(
        due=due,
        amount=amount if due else None,
        reason=reason,
        explanation=document,
        ruleset_version=ruleset.reform or ruleset.version,
    )
