"""RFC 6962 / RFC 9162 Merkle tree functions: known vectors and generated trees."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.core.translog import merkle

# The Certificate Transparency test vectors (RFC 6962 reference tests): eight leaf inputs and
# the roots of the trees of their first 1..8 leaves, as published facts.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 1): [],
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
CT_LEAF_HASHES = [merkle.leaf_hash(leaf) for leaf in CT_LEAVES]


class PerfectSubtrees:
    """Every perfect-subtree hash of a tree, built level by level (independent of the code
    under test except for the two hash functions)."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.levels = [leaf_hashes]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def __getitem__(self, node: merkle.NodeId) -> bytes:
        level, index = node
        return self.levels[level][index]

    def root(self, size: int) -> bytes:
        return merkle.fold([self[node] for node in merkle.frontier(size)])

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return merkle.hash_ranges(merkle.inclusion_ranges(index, size), self.__getitem__)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return merkle.hash_ranges(merkle.consistency_ranges(first, second), self.__getitem__)


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


# -- known vectors --------------------------------------------------------------------------


def test_hashes_have_the_rfc_prefixes() -> None:
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert merkle.node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert merkle.mth([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_ct_vectors(size: int) -> None:
    assert merkle.mth(CT_LEAF_HASHES[:size]).hex() == CT_ROOTS[size - 1]
    assert PerfectSubtrees(CT_LEAF_HASHES).root(size).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_inclusion_paths_match_the_ct_vectors(index: int, size: int) -> None:
    expected = CT_INCLUSION[index, size]
    assert _hex(merkle.inclusion_path(index, CT_LEAF_HASHES[:size])) == expected
    assert _hex(PerfectSubtrees(CT_LEAF_HASHES).inclusion(index, size)) == expected
    proof = [bytes.fromhex(h) for h in expected]
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert merkle.verify_inclusion(CT_LEAF_HASHES[index], index, size, proof, root)


@pytest.mark.parametrize(("first", "second"), sorted(CT_CONSISTENCY))
def test_consistency_proofs_match_the_ct_vectors(first: int, second: int) -> None:
    expected = CT_CONSISTENCY[first, second]
    assert _hex(merkle.consistency_proof(first, CT_LEAF_HASHES[:second])) == expected
    assert _hex(PerfectSubtrees(CT_LEAF_HASHES).consistency(first, second)) == expected
    proof = [bytes.fromhex(h) for h in expected]
    first_root, second_root = (bytes.fromhex(CT_ROOTS[s - 1]) for s in (first, second))
    assert merkle.verify_consistency(first, second, first_root, second_root, proof)


# -- exhaustive small trees ---------------------------------------------------------------


def test_every_proof_of_every_tree_up_to_40_leaves_matches_the_definition() -> None:
    leaves = _leaves(40)
    tree = PerfectSubtrees(leaves)
    for n in range(1, 41):
        root = merkle.mth(leaves[:n])
        assert tree.root(n) == root
        for m in range(n):
            path = merkle.inclusion_path(m, leaves[:n])
            assert tree.inclusion(m, n) == path
            assert merkle.verify_inclusion(leaves[m], m, n, path, root)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, leaves[:n])
            assert tree.consistency(m, n) == proof
            assert merkle.verify_consistency(m, n, merkle.mth(leaves[:m]), root, proof)


# -- generated trees (hypothesis) ---------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=2, max_value=300), salt=st.integers(0, 10**6))
def test_every_inclusion_and_consistency_proof_verifies(n: int, salt: int) -> None:
    leaves = _leaves(n, salt)
    tree = PerfectSubtrees(leaves)
    root = merkle.mth(leaves)
    assert tree.root(n) == root
    for m in range(n):
        assert merkle.verify_inclusion(leaves[m], m, n, tree.inclusion(m, n), root)
    for m in range(1, n):
        first_root = tree.root(m)
        assert merkle.verify_consistency(m, n, first_root, root, tree.consistency(m, n))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_planned_proofs_equal_the_rfc_recursion(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=300), label="n")
    m = data.draw(st.integers(min_value=0, max_value=n - 1), label="m")
    leaves = _leaves(n)
    tree = PerfectSubtrees(leaves)
    assert tree.inclusion(m, n) == merkle.inclusion_path(m, leaves)
    assert tree.consistency(m + 1, n) == merkle.consistency_proof(m + 1, leaves)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_altered_proofs_fail(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=2, max_value=300), label="n")
    m = data.draw(st.integers(min_value=1, max_value=n - 1), label="m")
    leaves = _leaves(n)
    tree = PerfectSubtrees(leaves)
    root, first_root = tree.root(n), tree.root(m)
    path = tree.inclusion(m, n)
    proof = tree.consistency(m, n)
    assert not merkle.verify_inclusion(leaves[m - 1], m, n, path, root)  # another leaf
    assert not merkle.verify_inclusion(leaves[m], m - 1, n, path, root)  # another index
    assert not merkle.verify_inclusion(leaves[m], m, n, path, first_root)  # another root
    assert not merkle.verify_inclusion(leaves[m], m, n, [*path, root], root)  # too long
    if path:
        at = data.draw(st.integers(0, len(path) - 1), label="altered path element")
        bad = [*path]
        bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
        assert not merkle.verify_inclusion(leaves[m], m, n, bad, root)
        assert not merkle.verify_inclusion(leaves[m], m, n, path[:-1], root)  # too short
    at = data.draw(st.integers(0, len(proof) - 1), label="altered proof element")
    bad = [*proof]
    bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
    assert not merkle.verify_consistency(m, n, first_root, root, bad)
    assert not merkle.verify_consistency(m, n, first_root, root, proof[:-1])
    assert not merkle.verify_consistency(m, n, first_root, root, [*proof, root])
    assert not merkle.verify_consistency(m, n, root, root, proof)  # wrong first root
    wrong_second = tree.root(n - 1) if n - 1 > m else merkle.EMPTY_ROOT
    assert not merkle.verify_consistency(m, n, first_root, wrong_second, proof)


def test_verifier_edge_cases() -> None:
    leaves = _leaves(5)
    root = merkle.mth(leaves)
    assert not merkle.verify_inclusion(leaves[0], 5, 5, [], root)  # index beyond the tree
    assert not merkle.verify_inclusion(leaves[0], -1, 5, [], root)
    assert merkle.verify_inclusion(leaves[0], 0, 1, [], leaves[0])
    assert not merkle.verify_consistency(2, 5, merkle.mth(leaves[:2]), root, [])  # empty path
    assert not merkle.verify_consistency(5, 2, root, root, [])
    assert merkle.verify_consistency(5, 5, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, leaves[0], [])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [root])


def test_planners_refuse_impossible_requests() -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(ValueError, match="consistent"):
        merkle.consistency_ranges(6, 5)
    with pytest.raises(ValueError, match="range"):
        merkle.perfect_cover(3, 3)
    assert merkle.consistency_ranges(0, 5) == []
    assert merkle.consistency_ranges(5, 5) == []
    assert merkle.perfect_cover(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.frontier(0) == []
