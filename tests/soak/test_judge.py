"""The soak's verdict on samples made up by hand: a small actor's growth fails it even while
the largest actor, and so rss_max, stays flat."""

from __future__ import annotations

from bench.soak import GAUGES, SoakResult

MIB = 1024


def _result(risk_growth_mib: float) -> SoakResult:
    r = SoakResult(minutes=10, workers=2)
    n = 30
    for i in range(n):
        r.samples.append({g.name: 100.0 for g in GAUGES} | {"t_s": float(i)})
        risk = 60 * MIB + risk_growth_mib * MIB * i / (n - 1)
        rss = {"router": 150 * MIB, "risk": int(risk)}
        if i % 2:
            rss["w01"] = 40 * MIB  # restarted by the churn: not in every sample, not judged
        r.rss_samples.append(rss)
    r.judge()
    return r


def test_a_small_actor_growing_fails_while_rss_max_is_flat() -> None:
    grows = _result(risk_growth_mib=60)
    assert grows.verdicts["rss_max_kb"][2]  # the router, the biggest, is flat
    assert not grows.verdicts["rss_kb[risk]"][2]
    assert not grows.ok
    assert "rss_kb[risk] (KiB)" in grows.table()
    assert "rss_kb[w01]" not in grows.verdicts


def test_noise_within_the_tolerance_is_flat() -> None:
    flat = _result(risk_growth_mib=8)  # under 15 % + 12 MiB
    assert flat.verdicts["rss_kb[risk]"][2]
    assert flat.ok


def _fences(counts: list[int]) -> SoakResult:
    r = SoakResult(minutes=10, workers=2)
    for i, n in enumerate(counts):
        r.samples.append({g.name: 100.0 for g in GAUGES} | {"t_s": float(i), "fenced": float(n)})
    r.judge(warmup_frac=0.0)
    return r


def test_a_burst_of_fences_mid_run_is_a_step_but_fences_that_keep_coming_fail() -> None:
    # 30 samples, thirds of 10: two fences at sample 15, none after (the count stays 2)
    burst = _fences([0] * 15 + [2] * 15)
    assert burst.verdicts["fenced"] == (0.0, 0.0, True)
    # fences in the late third: a trend, whatever the early count was
    rising = _fences([0] * 20 + list(range(1, 11)))
    assert rising.verdicts["fenced"][1] == 9.0
    assert not rising.verdicts["fenced"][2]


def _journal(sizes: list[float]) -> SoakResult:
    r = SoakResult(minutes=10, workers=2)
    for i, b in enumerate(sizes):
        r.samples.append({g.name: 100.0 for g in GAUGES} | {"t_s": float(i), "journal_bytes": b})
    r.judge(warmup_frac=0.0)
    return r


def test_a_compacted_journal_s_sawtooth_is_flat_wherever_the_samples_fall() -> None:
    mib = 1024 * 1024
    tooth = [0.2 * mib, 1.0 * mib, 2.0 * mib, 3.0 * mib]  # compacted at ~3 MiB
    # the late third caught the top of a tooth, the early third only its foot: flat
    assert _journal([0.2 * mib] * 3 + tooth * 3 + [3.3 * mib] * 3).verdicts["journal_bytes"][2]
    # never compacted: every third sets a new peak
    grows = _journal([i * 0.4 * mib for i in range(30)])
    assert not grows.verdicts["journal_bytes"][2]
