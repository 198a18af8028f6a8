"""The leaderboard says why a design ranks where it does, and a run without verification still
lists its designs."""

from __future__ import annotations

import pytest

from genesys_tui.evolve.leaderboard import format_leaderboard, leaderboard, member_terms
from genesys_tui.evolve.population import Member, Population
from genesys_tui.evolve.terms import fitness_terms, rung_terms, why
from genesys_tui.verify.evals.tasks import CHANCE, PROBE_CHANCE
from genesys_tui.verify.fitness import FitnessSettings, rung_score

RUNG = "cpu-s"


def _member(mid: str, seq: int, metrics: dict[str, float] | None, seed: bool = False,
            status: str = "verified") -> Member:  # fmt: skip
    m = Member(mid, seq, () if seed else ("gpt-1",), seed, status)
    if metrics is not None:
        bpb = metrics["bpb"]
        accs = {k[5:]: v for k, v in metrics.items() if k.startswith("eval/")}
        scored = {k: v for k, v in accs.items() if k != "genblimp"}
        score = rung_score(bpb, scored, FitnessSettings(chance=CHANCE))  # as the verifier
        m.rung_scores[RUNG] = score
        m.rung_metrics[RUNG] = {**metrics, "score": score, "tokens_per_second": 1e4}
    return m


@pytest.fixture
def population() -> Population:
    # the case: a child with worse bits per byte than a seed ranks above it
    pop = Population([RUNG])
    pop.add(_member("gpt-1", 1, {"bpb": 3.80, "eval/heldout_lastword": 0.30,
                                 "eval/genblimp_a_an": 0.55}, seed=True))  # fmt: skip
    pop.add(_member("mamba2-2", 2, {"bpb": 3.43, "eval/heldout_lastword": 0.26,
                                    "eval/genblimp_a_an": 0.50}, seed=True))  # fmt: skip
    pop.add(
        _member(
            "gpt-a151a7-9",
            9,
            {
                "bpb": 3.66,
                "eval/heldout_lastword": 0.40,
                "eval/genblimp_a_an": 0.62,
                "eval/genblimp": 0.62,
            },
        )
    )
    pop.add(_member("gpt-77-10", 10, None, status="checked"))
    pop.add(_member("gpt-78-11", 11, None, status="rejected"))
    return pop


def test_the_terms_add_up_to_the_fitness(population: Population) -> None:
    child = population.members["gpt-a151a7-9"]
    terms = member_terms(population, child)
    assert {t.name for t in terms} == {"bpb", "heldout_lastword", "genblimp_a_an"}  # no group
    assert sum(t.contribution for t in terms) == pytest.approx(population.fitness(child))
    assert sum(t.share for t in terms) == pytest.approx(1.0)
    bpb = next(t for t in terms if t.name == "bpb")
    assert bpb.raw == 3.66 and bpb.value == pytest.approx(1 - 3.66 / 8)


def test_the_row_says_why_a_worse_bpb_ranks_above_a_seed(population: Population) -> None:
    rows = leaderboard(population)
    order = [r.design for r in rows]
    assert order.index("gpt-a151a7-9") < order.index("mamba2-2")
    child = rows[order.index("gpt-a151a7-9")]
    # the task terms carry it; bits per byte takes a little away
    assert child.why == "genblimp_a_an +0.0633, heldout_lastword +0.0533"
    assert "bpb -" in why(member_terms(population, population.members[child.design]), most=3)
    text = format_leaderboard(rows)
    assert "why" in text.splitlines()[0] and child.why in text


def test_rung_terms_score_as_the_verifier_does() -> None:
    metrics = {"bpb": 2.0, "eval/heldout_lastword": 0.5, "eval/probe_mqar": 0.3, "score": 9.0}
    terms = rung_terms(metrics)
    s = FitnessSettings(chance={"heldout_lastword": 0.25, **PROBE_CHANCE})
    expected = rung_score(2.0, {"heldout_lastword": 0.5, "probe_mqar": 0.3}, s)
    assert sum(share * value for _, share, value in terms.values()) == pytest.approx(expected)


def test_probe_chance_levels_match_the_probes() -> None:
    from genesys_tui.verify.evals.probes import PROBES

    assert {f"probe_{n}": p.chance for n, p in PROBES.items()} == PROBE_CHANCE


def test_without_seeds_at_a_rung_there_is_no_baseline_and_no_why() -> None:
    terms = fitness_terms({RUNG: {"bpb": 3.0}}, [])
    assert terms[0].baseline is None and terms[0].contribution == 0.0 and why(terms) == ""


def test_a_run_without_verification_lists_its_designs_with_their_check_status(
    population: Population,
) -> None:
    assert "gpt-77-10" not in {r.design for r in leaderboard(population)}
    rows = {r.design: r for r in leaderboard(population, unverified=True)}
    assert rows["gpt-77-10"].why == "passed the checker; not verified"
    assert rows["gpt-78-11"].why == "rejected by the checker"
    assert rows["gpt-77-10"].fitness is None
    ordered = [r.design for r in leaderboard(population, unverified=True)]
    assert ordered.index("gpt-77-10") < ordered.index("gpt-78-11")  # checked before rejected


def test_record_terms_read_store_records_and_skip_failed_rungs() -> None:
    from types import SimpleNamespace

    from genesys_tui.evolve.terms import record_terms

    seed = SimpleNamespace(origin="seed", rungs={RUNG: {"bpb": 4.0, "score": 0.5}})
    child = SimpleNamespace(
        origin="mutation", rungs={RUNG: {"bpb": 3.6, "score": 0.55}, "cpu-m": {}}
    )
    (term,) = record_terms(child, [seed, child])
    assert (term.rung, term.name, term.baseline) == (RUNG, "bpb", 0.5)
    assert term.contribution == pytest.approx(0.4 / 8)
