"""End-to-end tests on the real Claude Code CLI (see conftest.py)."""
