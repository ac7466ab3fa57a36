"""The coach's conversation: turns inputs (commands, taps, text, due follow-ups) into replies.

Transport-free: the Telegram adapter and the journey simulator both drive this same code.
"""
