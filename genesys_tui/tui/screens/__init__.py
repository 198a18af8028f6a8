"""The dashboard's screens: the main screen and the design inspector."""
