"""The pure core: values, parsing, ranking, planning a save, the slice, security.

No files, SQL, clock, subprocess or environment (tests/test_architecture.py checks the imports).
"""
