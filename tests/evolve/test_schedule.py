"""Verification scheduling: baselines first, then budgets about 4x fewer per higher rung."""

from __future__ import annotations

from genesys_tui.evolve.schedule import DesignProgress, next_verification, rung_budgets

RUNGS = ["xs", "s", "m"]


def test_budgets_shrink_by_the_ratio() -> None:
    assert rung_budgets(RUNGS, 64) == {"xs": 64, "s": 16, "m": 4}
    assert rung_budgets(RUNGS, 12) == {"xs": 12, "s": 3, "m": 0}


def _designs(n_seeds: int, n: int) -> dict[str, DesignProgress]:
    out = {f"seed{i}": DesignProgress(f"seed{i}", is_seed=True, order=i) for i in range(n_seeds)}
    out |= {f"d{i}": DesignProgress(f"d{i}", order=100 + i) for i in range(n)}
    return out


def _run_until_idle(
    designs: dict[str, DesignProgress], budgets: dict[str, int], score: dict[str, float]
) -> list[tuple[str, str]]:
    order = []
    while (job := next_verification(designs, RUNGS, budgets, set())) is not None:
        design, rung = job
        designs[design].passed[rung] = score.get(design, 0.0)
        order.append(job)
    return order


def test_seeds_are_verified_first_as_baselines() -> None:
    designs = _designs(2, 3)
    order = _run_until_idle(designs, rung_budgets(RUNGS, 8), {})
    assert order[:2] == [("seed0", "xs"), ("seed1", "xs")]


def test_each_rung_respects_its_budget_and_promotes_the_best() -> None:
    designs = _designs(1, 16)
    score = {f"d{i}": i / 16 for i in range(16)}
    budgets = rung_budgets(RUNGS, 16)
    order = _run_until_idle(designs, budgets, score)
    per_rung = {r: [d for d, rr in order if rr == r and not d.startswith("seed")] for r in RUNGS}
    assert len(per_rung["xs"]) == 16
    assert len(per_rung["s"]) == 4
    assert len(per_rung["m"]) == 1
    assert set(per_rung["s"]) <= {f"d{i}" for i in range(16)}
    assert per_rung["m"] == [max(per_rung["s"], key=lambda d: score[d])]


def test_failed_verification_is_not_retried() -> None:
    designs = _designs(0, 1)
    designs["d0"].failed.add("xs")
    assert next_verification(designs, RUNGS, rung_budgets(RUNGS, 4), set()) is None


def test_in_flight_jobs_are_not_scheduled_twice() -> None:
    designs = _designs(0, 2)
    first = next_verification(designs, RUNGS, rung_budgets(RUNGS, 4), set())
    assert first == ("d0", "xs")
    assert next_verification(designs, RUNGS, rung_budgets(RUNGS, 4), {first}) == ("d1", "xs")


def test_higher_rung_baselines_wait_for_a_promotion() -> None:
    designs = _designs(2, 1)
    budgets = rung_budgets(RUNGS, 16)
    order = _run_until_idle(designs, budgets, {"d0": 1.0})
    # One design cannot earn a promotion (4 results per promotion): seeds stay at rung 0.
    assert {r for _, r in order} == {"xs"}
    more = _designs(2, 4)
    order = _run_until_idle(more, budgets, {"seed1": 0.5} | {f"d{i}": i for i in range(4)})
    at_s = [d for d, r in order if r == "s"]
    # One baseline above the first rung: the best seed of the rung below.
    assert at_s == ["seed1", "d3"]
