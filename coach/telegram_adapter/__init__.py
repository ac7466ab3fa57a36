"""The Telegram adapter: python-telegram-bot on one side, the coach on the other."""
