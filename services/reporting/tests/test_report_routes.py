"""The report endpoints' table: the periods and download names the API has always used."""

from reporting.report_routes import REPORTS, Period

BY_NAME = {report.name: report for report in REPORTS}


def test_the_four_reports_keep_their_paths() -> None:
    assert list(BY_NAME) == ["quarterly-monitoring", "outcomes", "courses", "esf-indicators"]


def test_downloads_are_named_by_report_period_and_scope() -> None:
    quarter, year = Period(2024, 2), Period(2025)
    assert BY_NAME["quarterly-monitoring"].download_name(quarter, None) == (
        "quarterly-monitoring-2024-q2"
    )
    assert BY_NAME["outcomes"].download_name(quarter, "diakonie") == "outcomes-2024-q2-diakonie"
    assert BY_NAME["courses"].download_name(year, None) == "courses-2025"
    assert BY_NAME["esf-indicators"].download_name(year, "vhs") == "esf-indicators-2025-vhs"


def test_a_period_gives_the_report_functions_their_arguments() -> None:
    assert Period(2024, 2).arguments() == {"year": 2024, "quarter": 2}
    assert Period(2025).arguments() == {"year": 2025}
