"""Studies of the ladder itself: how much a rung's figures move between training seeds."""
