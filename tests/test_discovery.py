"""The discovery benchmark: its per-rung table read against the seeds and the rung's noise, and
a short run end to end on the tiny ladder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesys_tui.bench.discovery import main
from genesys_tui.bench.discovery_report import discovery_table, format_table, read_population
from genesys_tui.errors import GenesysError
from genesys_tui.evolve.population import Member, Population

LADDER = str(Path(__file__).parent / "evolve" / "tiny_ladder.toml")


def _add(pop: Population, mid: str, seed: bool, **scores: float) -> None:
    m = Member(mid, len(pop.members), () if seed else ("gpt-1",), seed, "verified")
    m.rung_scores.update({k.replace("_", "-"): v for k, v in scores.items()})
    pop.add(m)


def test_the_table_counts_grown_designs_that_beat_every_seed_above_noise() -> None:
    pop = Population(["cpu-xs", "cpu-s8", "cpu-s"], {"cpu-xs": 0.01, "cpu-s": 0.01})
    _add(pop, "gpt-1", True, cpu_xs=0.50, cpu_s=0.36)
    _add(pop, "mamba2-2", True, cpu_xs=0.57)
    _add(pop, "a-10", False, cpu_xs=0.60, cpu_s8=0.7, cpu_s=0.385)  # beats both at xs: +3.0σ
    _add(pop, "b-11", False, cpu_xs=0.58)  # +1.0σ over mamba2: a tie, not counted
    _add(pop, "c-12", False, cpu_xs=0.40)
    xs, s8, s = discovery_table(pop)
    assert (xs.rung, xs.verified, xs.seeds, xs.best_seed, xs.best_grown) == \
        ("cpu-xs", 3, 2, "mamba2-2", "a-10")  # fmt: skip
    assert xs.margin == pytest.approx(0.03) and xs.margin_sigma == pytest.approx(3.0)
    assert xs.beating_all == 1
    assert (s8.seeds, s8.best_seed, s8.margin, s8.margin_sigma, s8.beating_all) == \
        (0, "", None, None, 0)  # fmt: skip
    assert s.margin_sigma == pytest.approx(2.5) and s.beating_all == 1
    text = format_table([xs, s8, s])
    assert "a-10" in text and "+3.0" in text and "more than 2 sigma" in text


def test_a_confirmation_reads_every_seeds_stored_runs_at_its_rung() -> None:
    from genesys_tui.study.compare import Runs, gather_runs

    here, there = "torch 2.13.0+cpu, cpu AVX512", "torch 2.13.0+cpu, cpu AVX2"
    own = {"x-9": Runs("x-9", "cpu-s", {3: 0.41}, numerics={3: here}),
           "rwkv7": Runs("rwkv7", "cpu-s", {3: 0.38}, numerics={3: here})}  # fmt: skip
    stored = [
        # seed 3 is the namespace's own: its score and numerics both stay
        Runs("rwkv7", "cpu-s", {0: 0.37, 3: 0.99}, numerics={0: there, 3: there}),
        Runs("gpt", "cpu-s", {0: 0.36, 1: 0.35}),  # a seed the loop did not take to cpu-s
        Runs("x-9", "cpu-s", {4: 0.40}, numerics={4: there}),
        Runs("gpt", "cpu-s", {1: 0.5, 2: 0.34}, numerics={1: here, 2: here}),  # later file wins
        Runs("mamba2", "cpu-s8", {0: 0.7}),  # another rung
        Runs("scratch-1", "cpu-s", {0: 0.5}),  # neither a seed nor the namespace's
    ]
    got = gather_runs(own, {"rwkv7", "gpt", "mamba2"}, stored, "cpu-s")
    assert {d: r.scores for d, r in got.items()} == {
        "x-9": {3: 0.41, 4: 0.40}, "rwkv7": {3: 0.38, 0: 0.37}, "gpt": {0: 0.36, 1: 0.5, 2: 0.34}}
    assert {d: r.numerics for d, r in got.items()} == {
        "x-9": {3: here, 4: there}, "rwkv7": {3: here, 0: there}, "gpt": {1: here, 2: here}}
    assert {r.rung for r in got.values()} == {"cpu-s"}
    assert own["x-9"].scores == {3: 0.41} and own["rwkv7"].numerics == {3: here}  # not changed


def test_a_confirmations_runs_train_side_by_side_and_each_finished_one_counts() -> None:
    import threading

    from genesys_tui.study.compare import run_all

    both = threading.Barrier(2, timeout=2)  # one worker at a time would break it

    def train(design: str, seed: int) -> float:
        both.wait()
        return seed + 0.5

    assert run_all([("a", 0), ("b", 1)], train, workers=2) == {("a", 0): 0.5, ("b", 1): 1.5}
    with pytest.raises(threading.BrokenBarrierError):
        run_all([("a", 0), ("b", 1)], train, workers=1)

    finished: list[str] = []

    def flaky(design: str, seed: int) -> float:
        if design == "bad":
            raise GenesysError("bad at tiny-1, training seed 0: diverged")
        finished.append(design)
        return 1.0

    # a failed run ends the confirmation only after the others have finished (and been kept)
    with pytest.raises(GenesysError, match="diverged"):
        run_all([("bad", 0), ("good", 0), ("good", 1)], flaky, workers=1)
    assert finished == ["good", "good"]


def test_a_confirmation_trains_the_lowest_seeds_a_design_lacks() -> None:
    from genesys_tui.study.compare import seeds_to_train

    assert seeds_to_train({3}, 3) == [0, 1]
    assert seeds_to_train({0, 1, 3}, 5) == [2, 4]
    assert seeds_to_train({0, 1, 2, 3, 4}, 3) == []


def test_a_leader_picked_from_several_drops_its_selection_run() -> None:
    from genesys_tui.study.compare import unbiased_runs

    kept, note = unbiased_runs({3: 0.42, 4: 0.38, 5: 0.37}, 3, rivals=4)
    assert kept == {4: 0.38, 5: 0.37} and "best of 4" in note and "0.4200" in note
    assert unbiased_runs({3: 0.42, 4: 0.38}, 3, rivals=1) == ({3: 0.42, 4: 0.38}, "")
    assert unbiased_runs({3: 0.42}, 3, rivals=4) == ({3: 0.42}, "")  # nothing else to keep


def test_each_sitting_records_its_settings_and_a_resume_names_what_it_changes() -> None:
    """A run resumed with other loop settings (a forgotten --workers 2) is plain in its file
    and in the note the resume prints; a report adds no sitting."""
    from genesys_tui.bench.discovery import _figures, _parser, changed_settings

    args = _parser().parse_args(["--hours", "1", "--halving", "0.5"])
    first = _figures(args, "ns", [], 3600.0, {}, "wall-time budget spent", ran=True)
    (sitting,) = first["sittings"]
    assert sitting["hours"] == 1.0 and sitting["workers"] == 1 and sitting["halving"] == 0.5
    resumed = _parser().parse_args(["--hours", "0.5", "--resume", "--halving", "0.5",
                                    "--workers", "2", "--max-designs", "90"])  # fmt: skip
    assert changed_settings(first, resumed) == ["--workers 1 -> 2", "--max-designs 60 -> 90"]
    second = _figures(resumed, "ns", [], 1800.0, first, "finished", ran=True)
    assert second["hours_total"] == 1.5
    assert [(s["hours"], s["workers"]) for s in second["sittings"]] == [(1.0, 1), (0.5, 2)]
    report = _figures(resumed, "ns", [], 0.0, second, "report only", ran=False)
    assert report["sittings"] == second["sittings"] and report["hours_total"] == 1.5
    assert changed_settings({}, resumed) == [] and changed_settings(second, resumed) == []


@pytest.mark.slow
def test_a_short_run_writes_its_table_and_report_rebuilds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from genesys_tui import wall
    from genesys_tui.bench import discovery

    writes: list[dict] = []
    real_write = discovery._write
    monkeypatch.setattr(discovery, "PROGRESS_SECONDS", 0.2)
    monkeypatch.setattr(discovery, "_write", lambda p, f: (writes.append(f), real_write(p, f)))

    out = tmp_path / "d.json"
    argv = ["--seed", "3", "--designs-dir", str(tmp_path / "designs"), "--ladder", LADDER,
            "--max-designs", "2", "--max-rungs", "1", "--out", str(out)]  # fmt: skip
    if wall.probe() is not None:
        argv.append("--no-sandbox")
    try:
        assert main(["--hours", "0.5", *argv]) == 0  # ends when all is verified
    finally:
        wall.configure(sandbox=True)
    first = json.loads(out.read_text())
    assert first["namespace"] == "discovery-s3" and first["hours"] > 0
    # While it ran, the run rewrote its figures (a run killed with its session keeps its hours).
    running = [f for f in writes if f["ended"] == "running"]
    assert running and 0 < running[-1]["hours"] <= first["hours"]
    assert running[-1]["sittings"][-1]["ended"] == "running"
    assert [s["max_designs"] for s in first["sittings"]] == [2]
    assert first["ended"] != "running"
    (row,) = first["rungs"]
    assert row["rung"] == "tiny-0" and row["seeds"] == 5 and row["best_seed"]
    assert main(["--report", *argv]) == 0
    again = json.loads(out.read_text())
    assert again["rungs"] == first["rungs"] and again["hours_total"] == first["hours_total"]
    assert "tiny-0" in capsys.readouterr().out
    assert main(["--hours", "0", *argv]) == 2
    assert main(["--report", *argv[:4], "--namespace", "nope"]) == 2

    # One grown design climbs to tiny-1 by hand; --complete-seeds verifies the five seeds there
    # with the run's training seed, so tiny-1's row compares it with all of them.
    from genesys_tui.study.climb import climb

    path = tmp_path / "designs" / "discovery-s3"
    grown = next(m for m in read_population(path, LADDER).members.values()
                 if not m.is_seed and m.checked)  # (on a busy machine maybe not yet verified)
    try:
        if wall.probe() is not None:
            wall.configure(sandbox=False)
        climb(path, "tiny-1", designs=[grown.id], ladder=LADDER, seed=3)
        assert main(["--report", "--complete-seeds", *argv]) == 0
    finally:
        wall.configure(sandbox=True)
    rows = {r["rung"]: r for r in json.loads(out.read_text())["rungs"]}
    assert rows["tiny-1"]["verified"] == 1 and rows["tiny-1"]["seeds"] == 5
    assert "verifying the seeds" in capsys.readouterr().out
    assert main(["--report", "--complete-seeds", *argv]) == 0  # nothing left to verify
    assert "every seed is verified there" in capsys.readouterr().out

    # --confirm 1: the grown design and the best seed at tiny-1 train with training seed 0 too;
    # the means are compared with every seed's, under the runs' own pooled spread (tiny-1 has
    # no measured sigma).
    assert main(["--report", "--confirm", "-1", *argv]) == 2
    assert main(["--report", "--confirm", "1", "--against", "missing.json", *argv]) == 2
    rows = {r["rung"]: r for r in json.loads(out.read_text())["rungs"]}
    from genesys_tui.store import DesignsRepo

    with DesignsRepo.open(path, writer=True):  # a loop still writes it: refused before training
        assert main(["--report", "--confirm", "1", *argv]) == 2
    assert "training seed" not in capsys.readouterr().out
    try:
        if wall.probe() is not None:
            wall.configure(sandbox=False)
        assert main(["--report", "--confirm", "1", "--workers", "2", *argv]) == 0
    finally:
        wall.configure(sandbox=True)
    printed = capsys.readouterr().out
    got = json.loads(out.read_text())["confirm"]
    best_seed = rows["tiny-1"]["best_seed"].rsplit("-", 1)[0]  # its library name
    assert got["candidate"] == grown.id and got["rung"] == "tiny-1"
    assert sorted(got["candidate_scores"]) == ["0", "3"]
    assert got["candidate_scores"]["3"] == pytest.approx(rows["tiny-1"]["best_grown_score"])
    n = {c["baseline"]: c["n_baseline"] for c in got["comparisons"]}
    assert len(n) == 5 and n.pop(best_seed) == 2 and set(n.values()) == {1}
    assert "pooled over these runs" in got["sigma_from"] and got["summary"] in printed
    assert printed.count("training seed 0:") == 2
    # The runs are kept in the namespace beside the loop's own (repeats:tiny-1)...
    from genesys_tui.results import repeat_runs

    with DesignsRepo.open(path) as repo:
        kept = repeat_runs(repo.results(grown.id))["tiny-1"]
    assert list(kept.scores) == [0]
    assert kept.scores[0] == pytest.approx(got["candidate_scores"]["0"])
    assert kept.bpb[0] > 0 and kept.seconds[0] > 0
    seed_run = got["comparisons"][[c["baseline"] for c in got["comparisons"]].index(best_seed)]
    # ...so a second confirmation trains nothing, and a seed's run stored in a file is read
    # (the namespace's runs win their seeds: the file's seed 3 is not)
    stored = tmp_path / "pooled.json"
    stored.write_text(json.dumps({"rung": "tiny-1", "designs": {
        best_seed: {"scores_by_training_seed": {"3": 0.0, "4": 0.123}}}}))  # fmt: skip
    try:
        if wall.probe() is not None:
            wall.configure(sandbox=False)
        assert main(["--report", "--confirm", "1", "--against", str(stored), *argv]) == 0
    finally:
        wall.configure(sandbox=True)
    assert capsys.readouterr().out.count("training seed 0:") == 0
    got = json.loads(out.read_text())["confirm"]
    row = next(c for c in got["comparisons"] if c["baseline"] == best_seed)
    assert row["n_baseline"] == 3
    assert row["mean_baseline"] == pytest.approx((2 * seed_run["mean_baseline"] + 0.123) / 3)


@pytest.mark.slow
def test_a_sigterm_ends_the_run_with_its_figures_written(tmp_path: Path) -> None:
    """``kill`` (a session ending, a scheduler) stops the loop as a second Ctrl-C does and the
    run file records the sitting as terminated, not "running" with its last minutes lost."""
    import signal
    import subprocess
    import sys
    import time

    from genesys_tui import wall

    out, designs = tmp_path / "d.json", tmp_path / "designs"
    cmd = [sys.executable, "-m", "genesys_tui.bench.discovery", "--hours", "0.5", "--seed", "3",
           "--designs-dir", str(designs), "--ladder", LADDER, "--max-designs", "40",
           "--max-rungs", "1", "--out", str(out)]  # fmt: skip
    if wall.probe() is not None:
        cmd.append("--no-sandbox")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            tags = subprocess.run(["git", "-C", str(designs / "discovery-s3"), "tag"],
                                  capture_output=True, text=True).stdout.split()  # fmt: skip
            if len(tags) > 6:  # the five seeds and grown designs: the loop runs
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    figures = json.loads(out.read_text())
    assert figures["ended"] == "terminated (SIGTERM)"
    assert figures["sittings"][-1]["ended"] == "terminated (SIGTERM)"
    assert 0 < figures["hours"] < 0.5 and figures["rungs"][0]["rung"] == "tiny-0"
    assert "terminated (SIGTERM)" in stdout
