"""The message pipeline: inbox → one person at a time → journeys → outbox → one sender.

`service` opens the unit of work for each input and each due follow-up; `courier` is the one
sender of everything in the outbox; `dispatcher` turns due follow-ups into outbox rows.
"""
