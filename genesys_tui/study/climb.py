"""Verify chosen designs of a namespace at one rung and attach the results: the measurements
the fidelity study compares (``genesys study climb``).

The loop promotes only the best designs, so two rungs rarely share enough designs to compare
them. A climb verifies the designs a study names (default: every design that passed its check)
at a rung of any ladder, a candidate rung from a ladder file included, and attaches each result
as ``rung:<name>`` exactly as the loop would. Designs that already hold an ok result for the
rung are skipped, so a climb stopped half way continues where it stopped.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from genesys_tui.errors import ConfigError
from genesys_tui.results import RungResult, SeedRuns, repeat_runs, rung_results


def climb_targets(repo, rung: str, designs: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(to verify, already done): the named designs, or every design that passed its check,
    in the order they were made. Unknown names raise ConfigError before anything runs."""
    records = {r.id: r for r in repo.records()}
    if designs:
        unknown = [d for d in designs if d not in records]
        if unknown:
            raise ConfigError(f"no design {', '.join(unknown)} in namespace {repo.namespace!r}")
        chosen = [records[d] for d in designs]
    else:
        chosen = sorted(
            (r for r in records.values() if _passed_check(repo.results(r.id), r.origin)),
            key=lambda r: r.seq,
        )
    todo, done = [], []
    for record in chosen:
        prior = rung_results(repo.results(record.id)).get(rung)
        (done if prior is not None and prior.ok else todo).append(record.id)
    return todo, done


def write_design(files: Mapping[str, str], where: str | Path) -> None:
    """Write a design's committed files (``DesignsRepo.read_design_files``) under ``where``,
    a directory the walled verification can read."""
    for rel, text in files.items():
        (Path(where) / rel).parent.mkdir(parents=True, exist_ok=True)
        (Path(where) / rel).write_text(text, encoding="utf-8")


def verify_files(files: Mapping[str, str], rung: str, *, ladder: str, seed: int, threads: int
                 ) -> RungResult:  # fmt: skip
    """A design's committed files verified at ``rung`` as the loop verifies them: written to a
    temporary directory, trained in a walled cell and scored on the graph (``verify_host``)."""
    from genesys_tui.evolve.jobs import verify_host

    with tempfile.TemporaryDirectory(prefix="genesys-verify-") as tmp:
        write_design(files, tmp)
        return RungResult.from_wire(
            verify_host(tmp, rung, ladder=ladder, seed=seed, threads=threads, timeout=86400.0)
        )


def _passed_check(results: dict, origin: str) -> bool:
    check = results.get("check")
    if check is not None:
        return bool(check.get("ok"))
    return origin == "seed"  # library seeds are trusted and may not carry a check


def climb(
    path: Path,
    rung: str,
    designs: Sequence[str] = (),
    ladder: str = "cpu",
    seed: int = 0,
    threads: int = 0,
    on_result: Callable[[str, RungResult], None] | None = None,
) -> dict[str, RungResult]:
    """Verify each target design of the namespace at ``path`` at ``rung`` and attach its
    result. The repository is opened as its writer only to attach, so climbs to different
    rungs (or of different designs) may run side by side on one namespace. Each design trains
    in a walled cell and is scored on its graph by the auditor, as in the loop (``verify_host``)."""
    from genesys_tui.ladder import load_ladder
    from genesys_tui.store import DesignsRepo

    load_ladder(ladder).rung(rung)  # an unknown rung fails here, before any training
    with DesignsRepo.open(path) as repo:
        todo, _ = climb_targets(repo, rung, designs)
        files = {d: repo.read_design_files(d) for d in todo}
    if todo:
        writable(path)  # a loop writing the namespace would leave no way to attach the results
    out: dict[str, RungResult] = {}
    for design_id in todo:
        result = verify_files(files[design_id], rung, ladder=ladder, seed=seed, threads=threads)
        _attach(path, design_id, f"rung:{rung}", result.to_note())
        out[design_id] = result
        if on_result is not None:
            on_result(design_id, result)
    return out


def keep_run(path: Path, design_id: str, rung: str, seed: int, result: RungResult) -> SeedRuns:
    """Keep ``result``, a further run of a design at ``rung`` with training seed ``seed``,
    beside the design's other runs there (``repeats:<rung>``); all its further runs there."""
    kept: list[SeedRuns] = []

    def add(repo) -> None:  # read and write in one writer session: no run lost to a race
        runs = repeat_runs(repo.results(design_id)).get(rung, SeedRuns()).with_run(seed, result)
        repo.attach(design_id, f"repeats:{rung}", runs.to_note())
        kept.append(runs)

    _as_writer(path, add)
    return kept[0]


def _attach(path: Path, design_id: str, kind: str, note: dict) -> None:
    _as_writer(path, lambda repo: repo.attach(design_id, kind, note))


def writable(path: Path, tries: int = 5) -> None:
    """Raise StoreError, naming the process, when another process holds the namespace's writer
    lock for longer than a few seconds (an evolution loop; not a brief attach).

    A command that trains for a long time and then keeps its runs here calls this before it
    trains: a loop's lock lasts as long as the loop, so without it the runs would be trained
    and then lost when the command came to keep them."""
    from genesys_tui.store.lock import WriterLock

    _retrying(lambda: _take_and_release(WriterLock(path / ".git"), path.name), tries)


def _take_and_release(lock, namespace: str) -> None:
    lock.acquire(namespace)
    lock.release()


def _as_writer(path: Path, action: Callable[..., None], tries: int = 60) -> None:
    """Run ``action(repo)`` as the namespace's writer, waiting (up to a minute) while another
    holds it."""
    from genesys_tui.store import DesignsRepo

    def once() -> None:
        with DesignsRepo.open(path, writer=True) as repo:
            action(repo)

    _retrying(once, tries)


def _retrying(step: Callable[[], None], tries: int) -> None:
    """``step()``, tried once a second while it fails because another process writes the
    namespace; the last try's error is raised."""
    import time

    from genesys_tui.errors import StoreError

    for attempt in range(tries):
        try:
            step()
            return
        except StoreError as exc:
            if "being written" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(1.0)
