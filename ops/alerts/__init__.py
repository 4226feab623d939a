"""Alerts: what a person must know now, sent to webhooks (generic JSON, Slack, Telegram)."""
