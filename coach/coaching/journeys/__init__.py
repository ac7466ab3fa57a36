"""The coach's journeys, one job each. They answer; `coach.coaching.router` decides who answers.

`common` holds what all of them share: the `Turn` being handled and how a question is asked.
"""
