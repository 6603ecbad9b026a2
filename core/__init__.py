"""The bottom layer: what every app shares and that knows no app.

State shared between web processes (generations, the Redis client), API
authentication and throttling, and request-level guards. Imports run one way:
core ← grid ← cases ← frontend ← project (tests/test_layers.py).
"""
