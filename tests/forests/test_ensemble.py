"""TreeEnsemble: traversal semantics, validation, persistence and reshaping helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forests.ensemble import TreeEnsemble, max_nodes_for_depth


def random_ensemble(
    rng: np.random.Generator, kind: str = "rf", num_trees: int = 5, num_features: int = 4,
    num_classes: int = 3, max_depth: int = 4, extra_nodes: int = 2,
) -> TreeEnsemble:
    """A random valid ensemble with shuffled node ids, thresholds on a coarse grid (so rows can
    sit exactly on them) and random NaN directions. Shared by the converter tests."""
    trees = []
    for _ in range(num_trees):
        nodes = [{"depth": 0}]
        i = 0
        while i < len(nodes):
            if nodes[i]["depth"] < max_depth and rng.random() < 0.75:
                nodes[i].update(feature=int(rng.integers(num_features)),
                                threshold=float(rng.integers(-4, 5)) / 2,
                                nan_right=bool(rng.random() < 0.5),
                                children=(len(nodes), len(nodes) + 1))
                nodes += [{"depth": nodes[i]["depth"] + 1}, {"depth": nodes[i]["depth"] + 1}]
            i += 1
        trees.append(nodes)
    m = max(len(t) for t in trees) + extra_nodes
    leaf_dim = num_classes if kind == "rf" else 1
    arrays = {"feature": np.full((num_trees, m), -1), "threshold": np.zeros((num_trees, m)),
              "left": np.full((num_trees, m), -1), "right": np.full((num_trees, m), -1),
              "missing_go_right": np.zeros((num_trees, m), bool),
              "leaf_value": np.zeros((num_trees, m, leaf_dim))}
    for t, nodes in enumerate(trees):
        perm = np.concatenate([[0], 1 + rng.permutation(m - 1)])  # node id -> slot, root at 0
        for j, node in enumerate(nodes):
            s = perm[j]
            if "feature" in node:
                arrays["feature"][t, s] = node["feature"]
                arrays["threshold"][t, s] = node["threshold"]
                arrays["missing_go_right"][t, s] = node["nan_right"]
                arrays["left"][t, s], arrays["right"][t, s] = perm[list(node["children"])]
            elif kind == "rf":
                arrays["leaf_value"][t, s] = rng.dirichlet(np.ones(num_classes))
            else:
                arrays["leaf_value"][t, s, 0] = rng.normal()
    extra = {}
    if kind == "gbt":
        k = 1 if num_classes == 2 else num_classes
        extra = {"bias": rng.normal(size=k), "output_class": np.arange(num_trees) % k}
    return TreeEnsemble(kind=kind, num_classes=num_classes,
                        feature_names=tuple(f"f{i}" for i in range(num_features)),
                        **arrays, **extra)


def reference_leaves(ens: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    """Row-by-row, tree-by-tree traversal with Python floats (float32 values)."""
    out = np.zeros((len(x), ens.num_trees), np.int64)
    for n, row in enumerate(np.asarray(x, np.float32)):
        for t in range(ens.num_trees):
            node = 0
            while ens.feature[t, node] >= 0:
                v = row[ens.feature[t, node]]
                nan_right = ens.missing_go_right[t, node]
                go_right = nan_right if np.isnan(v) else v >= ens.threshold[t, node]
                node = ens.right[t, node] if go_right else ens.left[t, node]
            out[n, t] = node
    return out


def stump(kind: str = "rf", **changes: object) -> TreeEnsemble:
    """One split on f0 at 0.5 (NaN -> right); leaves [1,0] / [0,1] (rf) or -1 / +2 (gbt)."""
    fields = dict(
        kind=kind, num_classes=2, feature_names=("f0", "f1"),
        feature=[[0, -1, -1]], threshold=[[0.5, 0, 0]], left=[[1, -1, -1]], right=[[2, -1, -1]],
        missing_go_right=np.array([[True, False, False]]),
        leaf_value=[[[0, 0], [1, 0], [0, 1]]] if kind == "rf" else [[[0], [-1.0], [2.0]]],
    )
    if kind == "gbt":
        fields.update(bias=[0.5], output_class=[0])
    fields.update(changes)
    return TreeEnsemble(**fields)


def test_split_goes_right_iff_x_at_or_above_threshold_and_nan_follows_flag():
    ens = stump()
    below = np.nextafter(np.float32(0.5), np.float32(-1))
    x = np.array([[below, 0], [0.5, 0], [np.nan, 0], [7, np.nan]], np.float32)
    np.testing.assert_array_equal(ens.leaf_indices(x)[:, 0], [1, 2, 2, 2])
    np.testing.assert_array_equal(ens.predict_proba(x), [[1, 0], [0, 1], [0, 1], [0, 1]])
    nan_left = stump(missing_go_right=np.zeros((1, 3), bool))
    assert nan_left.leaf_indices(np.array([[np.nan, 0]], np.float32))[0, 0] == 1


def test_gbt_binary_applies_bias_and_sigmoid():
    ens = stump("gbt")
    p = ens.predict_proba(np.array([[0.0, 0], [1.0, 0]], np.float32))
    expected = 1 / (1 + np.exp(-np.array([0.5 - 1.0, 0.5 + 2.0])))
    np.testing.assert_allclose(p[:, 1], expected, rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("kind,num_classes", [("rf", 3), ("gbt", 2), ("gbt", 3)])
def test_vectorised_traversal_matches_row_by_row_reference(kind, num_classes):
    rng = np.random.default_rng(1)
    ens = random_ensemble(rng, kind, num_trees=6, num_classes=num_classes)
    x = (rng.integers(-5, 6, size=(200, 4)) / 2).astype(np.float32)  # many rows on thresholds
    x[rng.random(x.shape) < 0.15] = np.nan
    leaves = reference_leaves(ens, x)
    np.testing.assert_array_equal(ens.leaf_indices(x), leaves)
    values = ens.leaf_value[np.arange(ens.num_trees), leaves]  # [N,T,V]
    if kind == "rf":
        expected = values.mean(axis=1)
    else:
        logits = ens.bias + np.stack(
            [values[:, ens.output_class == k, 0].sum(axis=1) for k in range(ens.num_outputs)], 1)
        if num_classes == 2:
            p1 = 1 / (1 + np.exp(-logits[:, 0]))
            expected = np.stack([1 - p1, p1], 1)
        else:
            expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ens.predict_proba(x), expected, atol=1e-6)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    for kind in ("rf", "gbt"):
        ens = random_ensemble(rng, kind)
        path = tmp_path / f"{kind}.npz"
        ens.save(path)
        back = TreeEnsemble.load(path)
        assert back.metadata() == ens.metadata()
        for name, arr in ens.to_arrays().items():
            got = back.to_arrays()[name]
            assert got.dtype == arr.dtype and np.array_equal(got, arr), name
        x = rng.normal(size=(50, 4)).astype(np.float32)
        np.testing.assert_array_equal(back.predict_proba(x), ens.predict_proba(x))
        with np.load(path) as data:
            assert json.loads(str(data["header"]))["schema_version"] == 1


def test_load_rejects_missing_file_and_other_schema(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz' does not exist"):
        TreeEnsemble.load(tmp_path / "nope.npz")
    ens = stump()
    arrays = dict(ens.to_arrays())
    header = dict(ens.metadata(), schema_version=99)
    np.savez(tmp_path / "v99.npz", header=np.array(json.dumps(header)), **arrays)
    with pytest.raises(ValueError, match="schema_version 1; got 'fedmultiemo.tree_ensemble' 99"):
        TreeEnsemble.load(tmp_path / "v99.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="is not a tree ensemble: missing"):
        TreeEnsemble.load(tmp_path / "other.npz")


@pytest.mark.parametrize("changes,message", [
    ({"kind": "xgb"}, "kind must be one of \\('rf', 'gbt'\\); got 'xgb'"),
    ({"num_classes": 1}, "num_classes must be >= 2; got 1"),
    ({"threshold": [[0.5, 0]]}, r"threshold must have shape \(1, 3\) like feature; got \(1, 2\)"),
    ({"leaf_value": np.zeros((1, 3, 3))}, r"leaf_value must have shape \(1, 3, 2\)"),
    ({"feature": [[2, -1, -1]]}, r"feature ids must be -1 \(leaf\) or in \[0, 2\); got 2"),
    ({"left": [[3, -1, -1]]}, r"left children of internal nodes must be in \[0, 3\)"),
    ({"right": [[2, -1, 0]]}, "right must be -1 for leaves"),
    ({"left": [[2, -1, -1]]}, "tree 0: node 2 is the child of more than one node"),
    ({"left": [[0, -1, -1]]}, "node 0 \\(the root\\) must not be a child"),
    ({"threshold": [[np.nan, 0, 0]]}, "threshold of internal nodes must not be NaN"),
    ({"leaf_value": [[[0, 0], [np.inf, 0], [0, 1]]]}, "leaf_value must be finite"),
    ({"feature_names": ("a", "a")}, "feature_names must be unique"),
    ({"feature": np.array([[0.0, -1, -1]])}, "feature must be an integer array; got dtype float64"),
    ({"missing_go_right": np.zeros((1, 3))}, "missing_go_right must be bool; got dtype float64"),
])
def test_invalid_ensembles_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        stump(**changes)


def test_unreachable_internal_node_and_bad_gbt_fields_are_rejected():
    with pytest.raises(ValueError, match="tree 0: internal node 3 is not reachable"):
        stump(feature=[[0, -1, -1, 1, -1, -1]], threshold=np.zeros((1, 6)),
              left=[[1, -1, -1, 4, -1, -1]], right=[[2, -1, -1, 5, -1, -1]],
              missing_go_right=np.zeros((1, 6), bool), leaf_value=np.zeros((1, 6, 2)))
    with pytest.raises(ValueError, match=r"bias must have shape \(1,\) for kind 'gbt'"):
        stump("gbt", bias=[0.0, 1.0])
    with pytest.raises(ValueError, match=r"output_class must be in \[0, 1\)"):
        stump("gbt", output_class=[1])


def test_predict_rejects_wrong_feature_count_and_dtype():
    ens = stump()
    with pytest.raises(ValueError, match=r"x must have shape \[N, 2\] \(num_features\); got \(4,"):
        ens.predict_proba(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="x must be a float array; got dtype int64"):
        ens.predict_proba(np.zeros((4, 2), np.int64))
    with pytest.raises(ValueError, match="decision_function needs kind 'gbt'; got 'rf'"):
        ens.decision_function(np.zeros((1, 2), np.float32))


def test_concat_select_and_pad_keep_the_documented_semantics():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 4)).astype(np.float32)
    a, b = random_ensemble(rng, "rf", num_trees=2), random_ensemble(rng, "rf", num_trees=3)
    both = TreeEnsemble.concat([a, b])
    assert both.num_trees == 5 and both.max_nodes == max(a.max_nodes, b.max_nodes)
    expected = (2 * a.predict_proba(x) + 3 * b.predict_proba(x)) / 5
    np.testing.assert_allclose(both.predict_proba(x), expected, atol=1e-6)
    np.testing.assert_array_equal(both.select_trees([2, 3, 4]).predict_proba(x), b.predict_proba(x))

    g1, g2 = random_ensemble(rng, "gbt"), random_ensemble(rng, "gbt")
    summed = TreeEnsemble.concat([g1, g2])
    np.testing.assert_allclose(summed.decision_function(x),
                               g1.decision_function(x) + g2.decision_function(x), atol=1e-5)
    padded = g1.pad(num_trees=g1.num_trees + 4, num_nodes=g1.max_nodes + 3)
    assert padded.feature.shape == (g1.num_trees + 4, g1.max_nodes + 3)
    assert padded.is_null_tree().sum() == 4
    np.testing.assert_array_equal(padded.decision_function(x), g1.decision_function(x))

    with pytest.raises(ValueError, match="only kind 'gbt' can be padded with trees; got 'rf'"):
        a.pad(num_trees=3)
    with pytest.raises(ValueError, match="pad can only grow the ensemble"):
        a.pad(num_nodes=1)
    with pytest.raises(ValueError, match=r"ensembles\[1\] has \(kind, num_classes, feature_"):
        TreeEnsemble.concat([a, g1])
    with pytest.raises(ValueError, match=r"indices must be in \[0, 2\); got \[5\]"):
        a.select_trees([5])


def test_max_nodes_for_depth_and_depths():
    assert [max_nodes_for_depth(d) for d in (0, 1, 3)] == [1, 3, 15]
    with pytest.raises(ValueError, match="max_depth must be >= 0; got -1"):
        max_nodes_for_depth(-1)
    assert stump().max_depth == 1 and stump().tree_depths.tolist() == [1]


def test_module_imports_without_tensorflow():
    code = ("import sys, forests.ensemble; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=repo)
