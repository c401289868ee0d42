"""Operator commands (`python -m ops ...`): data lifecycle jobs run with the service key."""
