"""The coach's conversation: turns inputs (commands, taps, text, due follow-ups) into replies.

Transport-free: the Telegram adapter and the journey simulator both drive this same code.
`router` maps every input to a journey in `journeys/`; `followups` does the same for due
follow-ups; `conversation.Coach` is the facade the pipeline calls.
"""
