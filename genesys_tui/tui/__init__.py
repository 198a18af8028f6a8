"""The Textual dashboard: the only package that imports textual.

``genesys`` (no command) opens it on a namespace and runs the evolution loop in a background
thread; ``genesys --view NS`` opens a namespace read-only. Plain-data helpers (the catalog of
designs, the family tree, leaderboard rows, worker activity, loss curves, resource samples)
import no textual and are tested on their own; screens and widgets render them.
"""
