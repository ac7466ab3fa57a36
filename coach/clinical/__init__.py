"""The clinical core: triage, plan phases, persistence and recovery rules.

Pure functions over plain data. No Telegram, no database, no clock of its own: callers pass the
dates and answers. Everything here follows ../shared/CLINICAL.md.
"""
