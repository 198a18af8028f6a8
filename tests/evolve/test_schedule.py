"""Verification scheduling: baselines first, then budgets about 4x fewer per higher rung."""

from __future__ import annotations

from genesys_tui.evolve.schedule import DesignProgress, next_verification, rung_budgets, waiting_at

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


# The rungs above the first take their share of the time, not all of it.
COST = {"xs": 10.0, "s": 300.0, "m": 1200.0}  # seconds a run takes at each rung


def _run_timed(
    designs: dict[str, DesignProgress], budgets: dict[str, int], share: float
) -> list[tuple[str, str]]:
    order = []
    while (job := next_verification(designs, RUNGS, budgets, set(), 4.0, share)) is not None:
        design, rung = job
        designs[design].passed[rung] = float(design[1:]) if design[0] == "d" else 0.0
        designs[design].seconds[rung] = COST[rung]
        order.append(job)
    return order


def _upper_share_at_each_promotion_while_first_rung_waits(order: list[tuple[str, str]]) -> float:
    """The largest share of the seconds spent so far that the rungs above the first had, seen
    when another job above it started while designs still waited at the first rung."""
    last_first = max(i for i, (_, r) in enumerate(order) if r == "xs")
    spent_first = spent_upper = worst = 0.0
    for i, (_, rung) in enumerate(order):
        if rung != "xs" and i < last_first and spent_first + spent_upper > 0:
            worst = max(worst, spent_upper / (spent_first + spent_upper))
        if rung == "xs":
            spent_first += COST[rung]
        else:
            spent_upper += COST[rung]
    return worst


def test_waiting_designs_at_the_first_rung_hold_promotions_back() -> None:
    budgets = rung_budgets(RUNGS, 64)
    counted = _run_timed(_designs(1, 64), budgets, share=1.0)
    shared = _run_timed(_designs(1, 64), budgets, share=0.5)
    for order in (counted, shared):  # the budgets hold either way
        assert sum(1 for d, r in order if r == "xs" and d[0] == "d") == 64
        assert sum(1 for d, r in order if r == "s" and d[0] == "d") == 16
        assert sum(1 for d, r in order if r == "m" and d[0] == "d") == 4
    # counting alone gives the expensive rungs nearly all the time while designs wait ...
    assert _upper_share_at_each_promotion_while_first_rung_waits(counted) > 0.9
    # ... the share keeps them to half of it
    assert _upper_share_at_each_promotion_while_first_rung_waits(shared) <= 0.5
    # and the best designs still climb: the top of s goes to m
    at_m = [d for d, r in shared if r == "m" and d[0] == "d"]
    assert "d63" in at_m


def test_with_nothing_waiting_a_due_promotion_goes_at_once() -> None:
    designs = _designs(1, 4)
    for p in designs.values():
        p.passed["xs"] = float(p.id[1:]) if p.id[0] == "d" else 0.0
        p.seconds["xs"] = 1.0
    designs["seed0"].passed["s"], designs["seed0"].seconds["s"] = 0.0, 1000.0  # far over share
    assert next_verification(designs, RUNGS, rung_budgets(RUNGS, 16), set(), 4.0, 0.5) == (
        "d3",
        "s",
    )


def test_a_running_upper_rung_job_keeps_the_others_on_the_first_rung() -> None:
    designs = _designs(1, 6)
    for i in range(4):
        designs[f"d{i}"].passed["xs"], designs[f"d{i}"].seconds["xs"] = float(i), 10.0
    designs["seed0"].passed["xs"], designs["seed0"].seconds["xs"] = 0.0, 10.0
    budgets = rung_budgets(RUNGS, 16)
    # a promotion is due (4 results) and the seed baseline runs at s; a second worker asks
    in_flight = {("seed0", "s")}
    assert next_verification(designs, RUNGS, budgets, in_flight, 4.0, 0.5) == ("d4", "xs")
    assert next_verification(designs, RUNGS, budgets, in_flight, 4.0, 1.0) == ("d3", "s")


def test_a_rung_never_run_is_estimated_from_the_first_rung_and_the_costs() -> None:
    designs = _designs(1, 34)
    budgets = rung_budgets(RUNGS, 64)

    def run_first_rung(upto: int) -> None:
        for p in [designs["seed0"], *(designs[f"d{i}"] for i in range(upto))]:
            p.passed["xs"], p.seconds["xs"] = float(p.order), 10.0

    costs = {"xs": 1.0, "s": 30.0, "m": 120.0}  # a run at s is estimated at 30 x 10 s
    run_first_rung(4)  # 50 s spent at xs, a promotion is due by count
    # 300 s at s against 50 s at xs would be over half: the first rung goes on
    assert next_verification(designs, RUNGS, budgets, set(), 4.0, 0.5, costs) == ("d4", "xs")
    # without costs a rung never run is unknown (0 s), and its promotion goes at once
    assert next_verification(designs, RUNGS, budgets, set(), 4.0, 0.5) == ("seed0", "s")
    # once the first rung has spent as much as the estimate, the promotion goes, though four
    # designs still wait at the first rung
    run_first_rung(30)  # 310 s
    assert next_verification(designs, RUNGS, budgets, set(), 4.0, 0.5, costs) == ("seed0", "s")


def test_the_designers_lead_counts_grown_designs_still_to_verify_within_the_budget() -> None:
    designs = _designs(2, 5)  # seeds never count: they are baselines, not the designer's
    assert waiting_at(designs, "xs", set(), budget=10) == 5
    designs["d0"].passed["xs"] = 0.5
    designs["d1"].failed.add("xs")  # a failed or halted run is done with the rung
    designs["d2"].passed["s"] = 0.4  # a result elsewhere does not count
    assert waiting_at(designs, "xs", set(), budget=10) == 3
    assert waiting_at(designs, "xs", {("d3", "xs"), ("seed0", "xs")}, budget=10) == 2
    assert waiting_at(designs, "xs", {("d3", "s")}, budget=10) == 3
    # Designs past the rung's budget will never be verified there: no lead to wait on.
    assert waiting_at(designs, "xs", set(), budget=4) == 2
    assert waiting_at(designs, "xs", {("d3", "xs")}, budget=3) == 0
    assert waiting_at(designs, "xs", set(), budget=1) == 0
