"""Batch evaluation over Parquet files, for analysts and operators.

Input: ``persons.parquet`` (``person_id``, ``household_id``, ``household_role`` — ``adult`` or
``child`` — then person input variables by name) and ``households.parquet`` (``household_id``,
then household input variables). Each input column describes the situation in the requested
month and is *held*: it is the value for every period the rules ask about (the January a yearly
housing tax reads, the months an average is taken over). Money columns are euros: integers
(whole euros), decimals, or floats (rounded to the cent).

Output: ``DIR/person.parquet`` keyed by ``person_id`` and ``DIR/household.parquet`` keyed by
``household_id`` with the requested variables (money as ``Decimal(38, 2)``, enums as their
keys, yearly variables for the year of the month). Everything is checked before anything is
written, and the files are written to a temporary directory first, then moved into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from joinedup.core.errors import ValidationFailed
from joinedup.rules.columnar import Simulation
from joinedup.rules.model import ValueType, Variable
from joinedup.rules.periods import Period, Unit
from joinedup.rules.population import Array, GroupColumns, InvalidPopulation, Population
from joinedup.rules.registry import get_ruleset
from joinedup.rules.ruleset import Ruleset, UnknownVariable

PERSON_KEYS = ("person_id", "household_id", "household_role")
GROUP_KEY = "household_id"


class InvalidInputFile(ValidationFailed):
    slug = "invalid-input-file"
    title = "An input file is not valid"


@dataclass
class EvaluationReport:
    """What a batch evaluation did."""

    out: Path
    persons: int
    households: int
    variables: list[str]
    inputs: list[str] = field(default_factory=list)
    defaulted_inputs: list[str] = field(default_factory=list)


def parse_period(text: str) -> Period:
    period = Period.parse(text)
    if period.unit is not Unit.MONTH or period.size != 1:
        raise ValidationFailed(f"'{text}' is not a month: give the period as YYYY-MM.")
    return period


def parse_variables(ruleset: Ruleset, text: str) -> list[Variable]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValidationFailed("Name at least one variable to compute (--variables a,b,c).")
    found = []
    for name in dict.fromkeys(names):
        try:
            found.append(ruleset.variable(name))
        except UnknownVariable:
            raise UnknownVariable(
                f"Unknown variable '{name}' in ruleset '{ruleset.name}'.", variable=name
            ) from None
    return found


def _read(path: Path, what: str) -> pl.DataFrame:
    if not path.is_file():
        raise InvalidInputFile(f"{what} file {path} does not exist.")
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidInputFile(f"{what} file {path} is not a Parquet file ({exc}).") from None


def _ids(frame: pl.DataFrame, column: str, what: str) -> Array:
    series = frame[column]
    if not (series.dtype.is_integer() or series.dtype == pl.String):
        raise InvalidInputFile(
            f"{what}: column '{column}' must hold integers or text, not {series.dtype}."
        )
    if series.null_count():
        raise InvalidInputFile(f"{what}: column '{column}' has {series.null_count()} empty values.")
    return series.to_numpy()


_EXPECTED = {
    ValueType.MONEY: "amounts in euros (integer, decimal or float)",
    ValueType.INT: "whole numbers",
    ValueType.FLOAT: "numbers",
    ValueType.BOOL: "true/false values",
    ValueType.DATE: "dates",
    ValueType.ENUM: "text",
}


def _column(series: pl.Series, variable: Variable, what: str) -> tuple[Any, bool]:
    """The column's values, and whether they are already cents (engine representation)."""
    dtype, kind = series.dtype, variable.value_type
    ok = {
        ValueType.MONEY: dtype.is_numeric(),
        ValueType.INT: dtype.is_integer(),
        ValueType.FLOAT: dtype.is_numeric() and not isinstance(dtype, pl.Decimal),
        ValueType.BOOL: dtype == pl.Boolean,
        ValueType.DATE: dtype == pl.Date,
        ValueType.ENUM: dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum),
    }[kind]
    if not ok:
        raise InvalidInputFile(
            f"{what}: column '{variable.name}' must hold {_EXPECTED[kind]}, not {dtype}.",
            column=variable.name,
        )
    nulls = series.null_count()
    if nulls and not variable.optional:
        raise InvalidInputFile(
            f"{what}: column '{variable.name}' has {nulls} empty values.", column=variable.name
        )
    if kind is ValueType.MONEY and isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2:
        return (series * 100).cast(pl.Int64).to_numpy(), True  # exact whole cents
    if kind is ValueType.MONEY and isinstance(dtype, pl.Decimal):
        return series.to_numpy().astype(object), False
    if kind is ValueType.ENUM:
        return series.cast(pl.String).to_numpy(), False
    return series.to_numpy(), False


def read_population(
    ruleset: Ruleset, *, persons_path: Path, households_path: Path
) -> tuple[Population, list[str]]:
    """Read, check and index the two files; returns the population and the input variables
    given. Raises ``ValidationFailed`` naming the file, the column and what is wrong."""
    persons = _read(persons_path, "persons")
    households = _read(households_path, "households")
    for frame, keys, what in (
        (persons, PERSON_KEYS, "persons"),
        (households, (GROUP_KEY,), "households"),
    ):
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise InvalidInputFile(f"{what}: missing column(s) {', '.join(missing)}.")
    person_ids = _ids(persons, "person_id", "persons")
    person_household = _ids(persons, "household_id", "persons")
    household_ids = _ids(households, GROUP_KEY, "households")
    roles = persons["household_role"]
    if roles.dtype != pl.String or roles.null_count():
        raise InvalidInputFile("persons: column 'household_role' must hold 'adult' or 'child'.")
    if person_household.dtype.kind != household_ids.dtype.kind and len(household_ids):
        raise InvalidInputFile(
            "persons.household_id and households.household_id have different types."
        )
    try:
        population = Population.build(
            ruleset,
            person_ids=person_ids,
            groups={"household": GroupColumns(household_ids, person_household, roles.to_numpy())},
        )
    except InvalidPopulation as exc:
        detail = exc.detail.replace("household of a person:", "persons in no household:")
        raise InvalidInputFile(detail) from None
    given: list[str] = []
    for frame, entity, keys, what in (
        (persons, ruleset.person.key, PERSON_KEYS, "persons"),
        (households, "household", (GROUP_KEY,), "households"),
    ):
        for name in frame.columns:
            if name in keys:
                continue
            variable = ruleset.variables.get(name)
            if variable is None or variable.entity != entity:
                raise InvalidInputFile(
                    f"{what}: column '{name}' is not a {entity} variable of '{ruleset.name}'.",
                    column=name,
                )
            try:
                values, native = _column(frame[name], variable, what)
                population.set_input(name, values, native=native)
            except InvalidPopulation as exc:
                raise InvalidInputFile(f"{what}: {exc.detail}", column=name) from None
            given.append(name)
    return population, given


def _output(variable: Variable, values: Array) -> pl.Series:
    name, kind = variable.name, variable.value_type
    if kind is ValueType.MONEY:
        return pl.Series(name, values, dtype=pl.Int64).cast(pl.Decimal(38, 2)) / 100
    if kind is ValueType.ENUM:
        assert variable.enum is not None
        return pl.Series(
            name, np.asarray(variable.enum.keys, dtype=object)[values], dtype=pl.String
        )
    return pl.Series(name, values)


def evaluate_files(
    *,
    ruleset_name: str,
    period: str,
    persons: Path,
    households: Path,
    variables: str,
    out: Path,
) -> EvaluationReport:
    """Compute ``variables`` for ``period`` over the population in the two files and write
    ``out/person.parquet`` and ``out/household.parquet``. Changes only ``out``; writes nothing
    when any input is invalid (``ValidationFailed``/``NotFound``)."""
    ruleset = get_ruleset(ruleset_name)
    month = parse_period(period)
    wanted = parse_variables(ruleset, variables)
    if out.exists() and not out.is_dir():
        raise ValidationFailed(f"--out {out} exists and is not a directory.")
    population, given = read_population(ruleset, persons_path=persons, households_path=households)
    simulation = Simulation(population)
    keys = [(v.name, ruleset.period_for(v, month)) for v in wanted]
    defaulted = sorted({name for name, _ in simulation.missing_inputs(keys)})
    results = simulation.compute(keys)
    frames: dict[str, dict[str, pl.Series]] = {
        ruleset.person.key: {"person_id": pl.Series("person_id", population.person_ids)},
        "household": {GROUP_KEY: pl.Series(GROUP_KEY, population.ids("household"))},
    }
    for variable, key in zip(wanted, keys, strict=True):
        frames[variable.entity][variable.name] = _output(variable, results[key])
    _write_atomically(
        out,
        {
            "person.parquet": pl.DataFrame(list(frames[ruleset.person.key].values())),
            "household.parquet": pl.DataFrame(list(frames["household"].values())),
        },
    )
    return EvaluationReport(
        out=out,
        persons=population.count,
        households=population.size("household"),
        variables=[v.name for v in wanted],
        inputs=given,
        defaulted_inputs=defaulted,
    )


def _write_atomically(out: Path, files: dict[str, pl.DataFrame]) -> None:
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".joinedup-rules-", dir=parent))
    try:
        for name, frame in files.items():
            frame.write_parquet(staging / name)
        if not out.exists():
            os.replace(staging, out)
            return
        for name in files:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
