import pytest

from reporting.disclosure import SUPPRESSED_MARKER, protect_count


@pytest.mark.parametrize("count", [1, 2])
def test_counts_of_one_and_two_are_suppressed(count: int) -> None:
    cell = protect_count(count, min_cell_count=3)
    assert cell.suppressed
    assert cell.value is None
    assert cell.marker == SUPPRESSED_MARKER


@pytest.mark.parametrize("count", [0, 3, 4, 1000])
def test_zero_and_counts_from_the_threshold_are_published(count: int) -> None:
    cell = protect_count(count, min_cell_count=3)
    assert not cell.suppressed
    assert cell.value == count


def test_threshold_is_configurable() -> None:
    assert protect_count(4, min_cell_count=5).suppressed
    assert not protect_count(5, min_cell_count=5).suppressed
