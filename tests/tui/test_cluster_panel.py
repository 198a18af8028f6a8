"""The workers panel shows a cluster runner's machines and where each job runs (issue 15);
with the local runner it shows neither."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Label, Static

from genesys_tui.evolve import events as ev
from genesys_tui.tui.activity import Activity
from genesys_tui.tui.widgets.workers import WorkersPanel
from tests.tui.helpers import until


def test_activity_keeps_the_cluster_and_each_jobs_host() -> None:
    act = Activity()
    act.apply(ev.ClusterStatus("ray:auto", ("a: 8 CPUs, 1 GPU", "b: 8 CPUs, 0 GPUs")))
    act.apply(ev.WorkerStatus(worker="checker", state="checking", job="d-3"))
    act.apply(ev.RungStarted(design="d-2", rung="cpu-xs"))
    assert act.apply(ev.JobPlaced(design="d-3", host="b"))
    assert act.apply(ev.JobPlaced(design="d-2", rung="cpu-xs", host="a"))
    assert not act.apply(ev.JobPlaced(design="gone", host="a"))  # a job not running: ignored
    assert (act.jobs["check:d-3"].host, act.jobs["train:d-2@cpu-xs"].host) == ("b", "a")
    assert act.runner == "ray:auto" and len(act.nodes) == 2


class _Panel(App[None]):
    def compose(self) -> ComposeResult:
        yield WorkersPanel()


@pytest.mark.asyncio
@pytest.mark.parametrize("runner", ["ray", "local"])
async def test_the_panel_lists_nodes_and_hosts_for_a_cluster_only(runner: str) -> None:
    act = Activity()
    act.apply(ev.ClusterStatus(runner, ("vm: 2 CPUs, 0 GPUs",)))
    act.apply(ev.RungStarted(design="d-2", rung="cpu-xs"))
    if runner != "local":
        act.apply(ev.JobPlaced(design="d-2", rung="cpu-xs", host="vm"))
    app = _Panel()
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(WorkersPanel)
        panel.show_jobs(act)
        # A new job row draws its label after its first refresh, which a loaded machine may
        # not reach within one pause.
        def drawn() -> bool:
            return any(str(w.render()) for w in panel.query("#what").results(Label))

        await until(pilot, drawn)
        label = str(panel.query_one("#what", Label).render())
        cluster = panel.query_one("#cluster", Static)
        if runner == "local":
            assert not cluster.display and "@" not in label
        else:
            text = str(cluster.render())
            assert cluster.display and "ray · 1 node" in text and "vm: 2 CPUs, 0 GPUs" in text
            assert "d-2 @vm" in label
