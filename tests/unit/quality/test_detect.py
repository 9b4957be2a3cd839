"""Which comparisons are made and which become alerts (pure: no services)."""

from __future__ import annotations

from quality.detect import Group, Policy, Tally, comparisons, find_regressions, not_yet_raised

OLD = Group("acme", "m", "v1", "p1", "chat")
NEW = Group("acme", "m", "v2", "p1", "chat")
OTHER = Group("acme", "m", "v1", "p1", "search")
POLICY = Policy(min_samples=100, fdr=0.001, min_relative_change=0.25)


def tally(responses: int, regenerated: int = 0, thumbed: int = 0, downs: int = 0, copied: int = 0) -> Tally:
    return Tally(responses=responses, thumbed=thumbed, downs=downs, regenerated=regenerated, copied=copied)


def test_established_group_against_itself_new_version_against_what_it_replaced() -> None:
    baseline = {OLD: tally(5000), OTHER: tally(5000), NEW: tally(10)}
    window = {OLD: tally(200), NEW: tally(300), OTHER: tally(200)}
    made = {(group, kind) for group, kind, _, _ in comparisons(window, baseline, 100)}
    assert made == {(OLD, "self"), (OTHER, "self"), (NEW, "versions")}
    # the new version's reference is the feature's other versions only, not another feature
    (reference,) = [ref for group, kind, _, ref in comparisons(window, baseline, 100) if kind == "versions"]
    assert reference.responses == 5000


def test_a_new_version_with_more_regenerates_raises_exactly_that_alert() -> None:
    baseline = {OLD: tally(5000, regenerated=500, copied=1250), OTHER: tally(5000, regenerated=500, copied=1250)}
    window = {NEW: tally(400, regenerated=80, copied=100), OTHER: tally(400, regenerated=40, copied=100)}
    (finding,) = find_regressions(window, baseline, POLICY)
    assert (finding.group, finding.metric, finding.comparison) == (NEW, "regenerate_rate", "versions")
    assert (finding.baseline, finding.current, finding.n, finding.baseline_n) == (0.1, 0.2, 400, 5000)
    assert finding.p_adjusted <= POLICY.fdr


def test_near_misses_no_alert() -> None:
    baseline = {OLD: tally(5000, regenerated=500)}
    # too few samples in the window, however bad
    assert find_regressions({OLD: tally(99, regenerated=90)}, baseline, POLICY) == []
    # significant but smaller than the minimum relative change (10% -> 11.5% on a huge sample)
    big = {OLD: tally(500_000, regenerated=50_000)}
    assert find_regressions({OLD: tally(200_000, regenerated=23_000)}, big, POLICY) == []
    # better, not worse
    assert find_regressions({OLD: tally(1000, regenerated=20)}, baseline, POLICY) == []
    # copy rate falling is worse; rising is not
    copies = {OLD: tally(5000, copied=1250)}
    assert [f.metric for f in find_regressions({OLD: tally(1000, copied=100)}, copies, POLICY)] == ["copy_rate"]
    assert find_regressions({OLD: tally(1000, copied=500)}, copies, POLICY) == []


def test_down_rate_is_over_thumbed_responses() -> None:
    baseline = {OLD: tally(50_000, thumbed=5000, downs=500)}
    window = {OLD: tally(1000, thumbed=150, downs=45)}
    (finding,) = find_regressions(window, baseline, POLICY)
    assert (finding.metric, finding.current, finding.n) == ("down_rate", 0.3, 150)
    assert finding.severity == "critical"


def test_one_alert_per_regression_while_windows_overlap() -> None:
    baseline = {OLD: tally(5000, regenerated=500)}
    findings = find_regressions({OLD: tally(400, regenerated=120)}, baseline, POLICY)
    assert len(findings) == 1
    assert not_yet_raised(findings, {findings[0].key()}) == []
    assert not_yet_raised(findings, set()) == findings
