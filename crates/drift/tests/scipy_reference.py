"""Reference values for crates/drift/tests/scipy.rs: reads the cases as JSON on stdin and writes
SciPy's / NumPy's statistics (computed as Evidently computes them) as JSON on stdout."""

import json
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance


def fill_zeros(shares):
    """Evidently's get_binned_data(..., feel_zeroes=True)."""
    shares = np.array(shares, dtype=np.float64)
    smallest = min(shares[shares != 0])
    np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return shares


def binned(ref_counts, cur_counts):
    r = np.array(ref_counts, dtype=np.float64)
    c = np.array(cur_counts, dtype=np.float64)
    r, c = r / r.sum(), c / c.sum()
    rf, cf = fill_zeros(r), fill_zeros(c)
    return {
        "psi": float(np.sum((rf - cf) * np.log(rf / cf))),
        "jensenshannon": float(distance.jensenshannon(r, c)),
    }


def numeric(case):
    ref = np.array(case["reference"], dtype=np.float64)
    cur = np.array(case["current"], dtype=np.float64)
    ks = stats.ks_2samp(ref, cur)
    edges = np.histogram_bin_edges(ref, bins="sturges")
    out = {
        "ks_statistic": float(ks.statistic),
        "ks_p_value": float(ks.pvalue),
        "wasserstein_normed": float(stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)),
        "sturges_edges": edges.tolist(),
        "ref_histogram": np.histogram(ref, edges)[0].tolist(),
        "cur_histogram": np.histogram(cur, edges)[0].tolist(),
        "cur_below": int(np.sum(cur < edges[0])),
        "cur_above": int(np.sum(cur > edges[-1])),
    }
    out.update(binned(case["bins_ref"], case["bins_cur"]))
    return out


def categorical(case):
    ref = case["reference"]
    cur = case["current"]
    keys = sorted(set(ref) | set(cur))
    rc = {k: ref.count(k) for k in keys}
    cc = {k: cur.count(k) for k in keys}
    k_norm = len(cur) / len(ref)
    chi = stats.chisquare([cc[k] for k in keys], [rc[k] * k_norm for k in keys])
    r = np.array([rc[k] / len(ref) for k in keys])
    c = np.array([cc[k] / len(cur) for k in keys])
    # Evidently's z_stat_test: the first sorted key against the rest.
    n1, n2 = len(ref), len(cur)
    p1 = sum(0 if x == keys[0] else 1 for x in ref) / n1
    p2 = sum(0 if x == keys[0] else 1 for x in cur) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        chi_p = float(chi.pvalue)
    out = {
        "chisquare_p_value": chi_p,
        "jensenshannon": float(distance.jensenshannon(r, c)),
        "z_p_value": float(2 * (1 - stats.norm.cdf(np.abs(z)))),
    }
    rf, cf = fill_zeros(r), fill_zeros(c)
    out["psi"] = float(np.sum((rf - cf) * np.log(rf / cf)))
    return out


def main():
    cases = json.load(sys.stdin)
    json.dump(
        {
            "numeric": [numeric(case) for case in cases["numeric"]],
            "categorical": [categorical(case) for case in cases["categorical"]],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
