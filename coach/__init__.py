"""Recovery Coach: a self-hosted Telegram coach for an acute back spasm."""

__version__ = "0.1.0"
