"""The dashboard's widgets: one panel per module, each with its own small CSS."""
