"""``joinedup bench rules``: joinedup's rules engine against OpenFisca, in the same run.

Each side runs in its own fresh process (``spawn``), so its peak memory is its own peak
resident set (``ru_maxrss``) and neither inherits the other's pages. Both sides generate the
same seeded synthetic population (NumPy columns, not timed), then:

* **build** — load the legislation (joinedup's ruleset: variables and parameter file;
  OpenFisca's ``CountryTaxBenefitSystem()``: variables and parameter files; both programs are
  imported before timing) and turn the columns into a population ready to compute
  (joinedup's ``Population``; OpenFisca's vectorial ``SimulationBuilder`` and ``set_input``,
  its fastest documented way);
* **evaluate** — compute ``disposable_income`` and ``parenting_allowance`` for one month, the
  best of ``REPEATS`` runs on each side (the same for both: joinedup computes the built
  population again with a new ``Simulation``; OpenFisca, whose simulation keeps what it
  computed, gets a freshly built simulation for each run, its build not timed again), so that
  other processes on a shared machine disturb the figures less; the first run of each side is
  one of the three. ``total`` is build plus this evaluate. Peak memory is read after the
  first run (build and one evaluation), so the repetitions do not count in it;
* **explain** — one household at a time: joinedup's explanation (values, conditions,
  parameters, sentences); OpenFisca's one-household simulation built from a situation with
  its tracer on, and the computation log.

The two results are compared household by household (incomes in whole euros, so both
engines' cents are exact: see the differential tests for cents).
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from joinedup.core.benchmark import BenchReport

PERIOD = "2016-01"
VARIABLES = ("disposable_income", "parenting_allowance")
EXPLAINED_HOUSEHOLDS = 200
OPENFISCA_EXPLAINED_HOUSEHOLDS = 30
REPEATS = 3


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sample(households: int, count: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed + 1)
    return [int(h) for h in rng.integers(0, households, size=min(count, households))]


def joinedup_side(persons: int, seed: int, out: str) -> dict[str, Any]:
    """Runs in a child process: build, evaluate, explain with joinedup."""
    # the program is imported before timing (as OpenFisca's is); the legislation is loaded in
    import joinedup.rules.rulesets.country_template  # noqa: F401
    from joinedup.rules.columnar import Simulation
    from joinedup.rules.periods import Period
    from joinedup.rules.registry import get_ruleset
    from joinedup.rules.service import explain
    from joinedup.rules.situation import Situation
    from joinedup.rules.synthetic import generate, to_population

    synthetic = generate(persons, seed=seed, cents=False)
    period = Period.parse(PERIOD)
    started = time.perf_counter()
    ruleset = get_ruleset("country_template")
    population = to_population(ruleset, synthetic, [period])
    built = time.perf_counter()
    runs, peak = [], 0.0
    for _ in range(REPEATS):
        results: dict[Any, Any] = {}  # the previous run's columns are let go first
        started_run = time.perf_counter()
        results = Simulation(population).compute([(name, period) for name in VARIABLES])
        runs.append(time.perf_counter() - started_run)
        peak = peak or _peak_mb()
    for name in VARIABLES:
        np.save(Path(out) / f"joinedup-{name}.npy", results[(name, period)])
    del results
    explain_ms, tree_ms = [], []
    for household in _sample(synthetic.households, EXPLAINED_HOUSEHOLDS, seed):
        t0 = time.perf_counter()
        situation = Situation.from_population(population, "household", household)
        explanation = explain(
            ruleset=ruleset,
            situation=situation,
            variables=VARIABLES,
            period=period,
            entity="household",
            entity_id=str(household),
        )
        t1 = time.perf_counter()
        explanation.as_dict()
        t2 = time.perf_counter()
        explain_ms.append((t1 - t0) * 1000)
        tree_ms.append((t2 - t0) * 1000)
    return {
        "build_s": built - started,
        "evaluate_s": min(runs),
        "total_s": built - started + min(runs),
        "peak_mb": peak,
        "explain_median_ms": statistics.median(explain_ms),
        "explain_with_json_tree_median_ms": statistics.median(tree_ms),
        "evaluate_runs_s": runs,
    }


def _situation(synthetic: Any, household: int) -> dict[str, Any]:
    members = np.flatnonzero(synthetic.person_household == household).tolist()
    from joinedup.rules.synthetic import STATUSES

    persons = {
        f"p{p}": {
            "birth": {"ETERNITY": str(synthetic.birth[p])},
            "salary": {PERIOD: float(synthetic.salary[p]) / 100},
            "capital_returns": {PERIOD: float(synthetic.capital_returns[p]) / 100},
        }
        for p in members
    }
    roles: dict[str, list[str]] = {"adults": [], "children": []}
    for p in members:
        roles["adults" if synthetic.person_role[p] == 0 else "children"].append(f"p{p}")
    body: dict[str, Any] = {
        **roles,
        "rent": {PERIOD: float(synthetic.rent[household]) / 100},
        "accommodation_size": {PERIOD: float(synthetic.accommodation_size[household])},
        "housing_occupancy_status": {
            PERIOD: STATUSES[int(synthetic.housing_occupancy_status[household])]
        },
    }
    for name in VARIABLES:
        body[name] = {PERIOD: None}
    return {"persons": persons, "households": {f"h{household}": body}}


def openfisca_side(persons: int, seed: int, out: str) -> dict[str, Any]:
    """Runs in a child process: build, evaluate, explain (trace) with OpenFisca."""
    # the program is imported before timing; loading the legislation (parameters, variables)
    # is CountryTaxBenefitSystem(), timed as part of the build
    import openfisca_core.simulations
    import openfisca_country_template  # noqa: F401

    from joinedup.rules.openfisca_bridge import build_simulation, tax_benefit_system
    from joinedup.rules.periods import Period
    from joinedup.rules.synthetic import generate

    synthetic = generate(persons, seed=seed, cents=False)
    period = Period.parse(PERIOD)
    started = time.perf_counter()
    system = tax_benefit_system()
    simulation = build_simulation(synthetic, [period])
    built = time.perf_counter()
    runs, peak = [], 0.0
    values: dict[str, Any] = {}
    for run in range(REPEATS):
        if run:
            values = {}
            del simulation
            simulation = build_simulation(synthetic, [period])
        started_run = time.perf_counter()
        values = {name: np.asarray(simulation.calculate(name, PERIOD)) for name in VARIABLES}
        runs.append(time.perf_counter() - started_run)
        peak = peak or _peak_mb()
    for name, array in values.items():
        np.save(Path(out) / f"openfisca-{name}.npy", array)
    del values, simulation
    builder = openfisca_core.simulations.SimulationBuilder
    explain_ms = []
    for household in _sample(synthetic.households, OPENFISCA_EXPLAINED_HOUSEHOLDS, seed):
        situation = _situation(synthetic, household)
        t0 = time.perf_counter()
        one = builder().build_from_entities(system, situation)
        one.trace = True
        for name in VARIABLES:
            one.calculate(name, PERIOD)
        one.tracer.computation_log.lines()
        explain_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "build_s": built - started,
        "evaluate_s": min(runs),
        "total_s": built - started + min(runs),
        "peak_mb": peak,
        "explain_median_ms": statistics.median(explain_ms),
        "evaluate_runs_s": runs,
    }


def _in_child(function: Any, persons: int, seed: int, out: str) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        result: dict[str, Any] = pool.submit(function, persons, seed, out).result()
    return result


def run(*, persons: int, compare_openfisca: bool, seed: int) -> BenchReport:
    with tempfile.TemporaryDirectory(prefix="joinedup-bench-rules-") as out:
        ours = _in_child(joinedup_side, persons, seed, out)
        figures: dict[str, Any] = {"joinedup": _public(ours)}
        notes = [
            f"{persons:,} persons, {PERIOD}: {', '.join(VARIABLES)}. Build includes loading "
            "the legislation. Explain: one household, both variables, median of "
            f"{EXPLAINED_HOUSEHOLDS}; with the whole explanation tree rendered to JSON: "
            f"{ours['explain_with_json_tree_median_ms']:.3f} ms. Evaluate: the best of "
            f"{REPEATS} runs on each side (joinedup's runs: {_runs(ours)} s).",
        ]
        if not compare_openfisca:
            alone: list[Sequence[Any]] = [["figure", "joinedup"]]
            alone += [[k, v] for k, v in figures["joinedup"].items()]
            return BenchReport("Rules engine (joinedup)", figures, alone, notes)
        theirs = _in_child(openfisca_side, persons, seed, out)
        figures["openfisca"] = _public(theirs)
        notes.append(f"OpenFisca's evaluate runs: {_runs(theirs)} s.")
        differences = {
            name: float(
                np.max(
                    np.abs(
                        np.load(Path(out) / f"joinedup-{name}.npy") / 100
                        - np.load(Path(out) / f"openfisca-{name}.npy").astype(np.float64)
                    )
                )
            )
            for name in VARIABLES
        }
    rows: list[Sequence[Any]] = [["figure", "joinedup", "OpenFisca", "joinedup / OpenFisca"]]
    for key in ("build_s", "evaluate_s", "total_s", "peak_mb", "explain_median_ms"):
        a, b = ours[key], theirs[key]
        rows.append([key, a, b, f"{a / b:.3f}×" if b else "—"])
    agree = all(d <= 0.01 for d in differences.values())
    notes.append(
        "Agreement (largest difference per household, €): "
        + ", ".join(f"{k} {v:.4f}" for k, v in differences.items())
        + (" — agree within €0.01" if agree else " — DISAGREE")
    )
    targets = [
        ("total ≤ 0.2× OpenFisca", ours["total_s"] <= 0.2 * theirs["total_s"]),
        ("evaluate ≤ 1.0× OpenFisca", ours["evaluate_s"] <= theirs["evaluate_s"]),
        ("one explained household ≤ 1 ms median", ours["explain_median_ms"] <= 1.0),
        ("peak memory ≤ OpenFisca's", ours["peak_mb"] <= theirs["peak_mb"]),
    ]
    notes.append(
        "Targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets)
    )
    return BenchReport("Rules engine: joinedup against OpenFisca", figures, rows, notes)


def _public(figures: dict[str, Any]) -> dict[str, Any]:
    keys = ("build_s", "evaluate_s", "total_s", "peak_mb", "explain_median_ms")
    return {k: figures[k] for k in keys}


def _runs(figures: dict[str, Any]) -> str:
    return ", ".join(f"{t:.3f}" for t in figures["evaluate_runs_s"])
