"""Scheduling: when follow-ups fall due (planner) and the code that sends them (dispatcher)."""
