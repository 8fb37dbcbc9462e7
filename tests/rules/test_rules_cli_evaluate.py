"""``joinedup rules evaluate``: Parquet in, Parquet out; bad input refused with exit code 2 and
nothing written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from joinedup.cli import app

runner = CliRunner()


def _persons(**changes: Any) -> pl.DataFrame:
    columns: dict[str, Any] = {
        "person_id": [1, 2, 3, 4],
        "household_id": [10, 10, 10, 20],
        "household_role": ["adult", "adult", "child", "adult"],
        "birth": [date(1980, 1, 1), date(1984, 1, 1), date(2013, 5, 2), date(1950, 3, 3)],
        "salary": [4000.0, 2500.0, 0.0, 120.55],
        "capital_returns": [0, 0, 0, 30],
    }
    columns.update(changes)
    return pl.DataFrame({k: v for k, v in columns.items() if v is not None})


def _households(**changes: Any) -> pl.DataFrame:
    columns: dict[str, Any] = {
        "household_id": [10, 20],
        "rent": [Decimal("900.10"), Decimal("450.00")],
        "accommodation_size": [80.0, 35.5],
        "housing_occupancy_status": ["tenant", "owner"],
    }
    columns.update(changes)
    return pl.DataFrame({k: v for k, v in columns.items() if v is not None})


def _run(
    tmp_path: Path,
    persons: pl.DataFrame,
    households: pl.DataFrame,
    *extra: str,
    variables: str = "disposable_income,income_tax,age,housing_occupancy_status,housing_tax",
    period: str = "2016-01",
) -> Any:
    persons.write_parquet(tmp_path / "persons.parquet")
    households.write_parquet(tmp_path / "households.parquet")
    return runner.invoke(
        app,
        [
            "rules",
            "evaluate",
            "--ruleset",
            "country_template",
            "--period",
            period,
            "--persons",
            str(tmp_path / "persons.parquet"),
            "--households",
            str(tmp_path / "households.parquet"),
            "--variables",
            variables,
            "--out",
            str(tmp_path / "out"),
            *extra,
        ],
    )


def test_evaluate_writes_keyed_results(tmp_path: Path) -> None:
    result = _run(tmp_path, _persons(), _households())
    assert result.exit_code == 0, result.output
    person = pl.read_parquet(tmp_path / "out" / "person.parquet")
    household = pl.read_parquet(tmp_path / "out" / "household.parquet")
    assert person.columns == ["person_id", "income_tax", "age"]
    assert household.columns == [
        "household_id",
        "disposable_income",
        "housing_occupancy_status",
        "housing_tax",
    ]
    assert person["person_id"].to_list() == [1, 2, 3, 4]
    assert person["income_tax"].dtype == pl.Decimal(38, 2)
    # 2016: 15% income tax; the 66-year-old (retirement age 60.33 then) gets the 1.00 pension
    assert person["income_tax"].to_list() == [
        Decimal("600.00"),
        Decimal("375.00"),
        Decimal("0.00"),
        Decimal("22.73"),
    ]
    assert person["age"].to_list() == [36, 32, 2, 65]
    assert household["housing_occupancy_status"].to_list() == ["tenant", "owner"]
    assert household["housing_tax"].to_list() == [Decimal("800.00"), Decimal("355.00")]
    assert "inputs not given" not in result.output


def test_evaluate_names_the_inputs_that_took_their_default(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        _persons(capital_returns=None),
        _households(rent=None),
        variables="disposable_income",
    )
    assert result.exit_code == 0
    assert "inputs not given, their defaults were used: capital_returns, rent" in result.output


def test_evaluate_replaces_files_in_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "person.parquet").write_text("old")
    result = _run(tmp_path, _persons(), _households())
    assert result.exit_code == 0
    assert pl.read_parquet(tmp_path / "out" / "person.parquet").height == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".joinedup")]


@pytest.mark.parametrize(
    ("persons", "households", "extra", "message"),
    [
        (_persons(household_role=None), _households(), {}, "missing column(s) household_role"),
        (
            _persons(),
            _households(
                household_id=None, rent=None, accommodation_size=None, housing_occupancy_status=None
            ),
            {},
            "households: missing column(s) household_id",
        ),
        (
            _persons(salary=["a", "b", "c", "d"]),
            _households(),
            {},
            "column 'salary' must hold amounts in euros",
        ),
        (_persons(birth=["1980-01-01"] * 4), _households(), {}, "column 'birth' must hold dates"),
        (
            _persons(household_id=[10, 10, 10, 30]),
            _households(),
            {},
            "persons in no household: 30 not found",
        ),
        (
            _persons(household_role=["adult", "adult", "kid", "adult"]),
            _households(),
            {},
            "unknown household role kid",
        ),
        (
            _persons(salry=[1, 2, 3, 4]),
            _households(),
            {},
            "column 'salry' is not a person variable",
        ),
        (_persons(rent=[1, 2, 3, 4]), _households(), {}, "column 'rent' is not a person variable"),
        (
            _persons(salary=[1.0, None, 3.0, 4.0]),
            _households(),
            {},
            "column 'salary' has 1 empty values",
        ),
        (_persons(person_id=[1, 1, 2, 3]), _households(), {}, "person ids are not unique: 1"),
        (
            _persons(),
            _households(housing_occupancy_status=["tenant", "castle"]),
            {},
            "holds 'castle', which is not one of owner",
        ),
        (
            _persons(),
            _households(),
            {"variables": "disposable_income,happiness"},
            "Unknown variable 'happiness'",
        ),
        (_persons(), _households(), {"variables": " , "}, "Name at least one variable"),
        (_persons(), _households(), {"period": "2016"}, "'2016' is not a month"),
        (_persons(), _households(), {"period": "2016-13"}, "'2016-13' is not a period"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path,
    persons: pl.DataFrame,
    households: pl.DataFrame,
    extra: dict[str, str],
    message: str,
) -> None:
    result = _run(tmp_path, persons, households, **extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["households.parquet", "persons.parquet"]


def test_unknown_ruleset_and_missing_file(tmp_path: Path) -> None:
    _persons().write_parquet(tmp_path / "persons.parquet")
    common = ["--period", "2016-01", "--variables", "age", "--out", str(tmp_path / "out")]
    result = runner.invoke(
        app,
        [
            "rules",
            "evaluate",
            "--ruleset",
            "atlantis",
            "--persons",
            str(tmp_path / "persons.parquet"),
            "--households",
            str(tmp_path / "h.parquet"),
            *common,
        ],
    )
    assert result.exit_code == 2
    assert (
        "There is no ruleset 'atlantis'; known rulesets: country_template, demo." in result.stderr
    )
    result = runner.invoke(
        app,
        [
            "rules",
            "evaluate",
            "--ruleset",
            "country_template",
            "--persons",
            str(tmp_path / "persons.parquet"),
            "--households",
            str(tmp_path / "h.parquet"),
            *common,
        ],
    )
    assert result.exit_code == 2
    assert "households file" in result.stderr
    assert "does not exist" in result.stderr
    (tmp_path / "h.parquet").write_text("not parquet")
    result = runner.invoke(
        app,
        [
            "rules",
            "evaluate",
            "--ruleset",
            "country_template",
            "--persons",
            str(tmp_path / "persons.parquet"),
            "--households",
            str(tmp_path / "h.parquet"),
            *common,
        ],
    )
    assert result.exit_code == 2
    assert "is not a Parquet file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_whatif_command(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "rules",
            "whatif",
            "--period",
            "2017-01",
            "--set",
            "benefits.basic_income=700",
            "--synthetic",
            "500",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"reform": "benefits.basic_income=700"' in result.output
    bad = runner.invoke(
        app, ["rules", "whatif", "--period", "2017-01", "--set", "benefits.nothing=1"]
    )
    assert bad.exit_code == 2
    assert "has no parameter 'benefits.nothing'" in bad.stderr
