"""The evolution loop: selection, the rung schedule, designers, the job runner, events, resume."""
