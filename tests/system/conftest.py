"""Fixtures of the system tests."""

import pytest

from tests.support.receiver import Receiver


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
