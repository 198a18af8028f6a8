"""Designs leave Genesys: ``genesys export`` writes a Hugging Face model directory."""

from genesys_tui.export.hf import ExportError, Provenance, export, same_design

__all__ = ["ExportError", "Provenance", "export", "same_design"]
