"""portusctl's end-to-end tests share the e2e suite's fixtures: a database per module."""

from tests.e2e.conftest import stack_db

__all__ = ["stack_db"]
