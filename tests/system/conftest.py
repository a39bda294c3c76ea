"""Fixtures of the system tests."""

import pytest

from tests.support.receiver import Receiver
from tests.support.working import Working


@pytest.fixture()
def receivers():
    """Make real webhook receivers (`receivers(statuses=…, …)`); all closed after the test."""
    made = []

    def make(*args, **kwargs):
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture()
def worker(database):
    """A real `taskapp worker` on the test database, stopped after the test (its output shown on failure)."""
    started = Working(database.worker_url)
    yield started
    print(started.output())  # shown when the test fails
    started.close()
