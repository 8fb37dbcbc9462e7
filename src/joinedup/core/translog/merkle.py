"""The Merkle Tree Hash of RFC 6962 §2.1 (RFC 9162 §2.1), as pure functions.

Two families of functions live here:

- the *definitions* (:func:`mth`, :func:`inclusion_path`, :func:`consistency_proof`) follow
  the RFC's recursive text literally, over a list of leaf hashes in memory;
- the *planners* (:func:`inclusion_ranges`, :func:`consistency_ranges`, :func:`perfect_cover`)
  say which subtrees a proof consists of without touching data, so a store that keeps the
  hashes of complete (perfect) subtrees can fetch everything a proof needs in one query.

Subtrees are half-open leaf ranges ``(start, end)``; a *perfect* subtree is written as
``(level, index)`` and covers leaves ``[index·2^level, (index+1)·2^level)``. Level 0 is a leaf.

The verifiers implement RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: MTH({}) = SHA-256() — the root of the empty tree.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256

Range = tuple[int, int]
NodeId = tuple[int, int]


def leaf_hash(leaf_input: bytes) -> bytes:
    """``SHA-256(0x00 || leaf_input)``."""
    return _sha256(LEAF_PREFIX + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The ``k`` of the RFC: the largest power of two strictly smaller than ``n`` (n > 1)."""
    if n < 2:
        raise ValueError("n must be greater than 1")
    return 1 << ((n - 1).bit_length() - 1)


# ---------------------------------------------------------------------------------------------
# The definitions, over leaf hashes in memory (RFC 6962 §2.1, §2.1.1, §2.1.2)


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) for the given leaf hashes (not leaf inputs)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def inclusion_path(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``index``, leaf-side first."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of size {n}")
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if index < k:
        return [*inclusion_path(index, leaf_hashes[:k]), mth(leaf_hashes[k:])]
    return [*inclusion_path(index - k, leaf_hashes[k:]), mth(leaf_hashes[:k])]


def all_inclusion_paths(leaf_hashes: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """MTH(D[n]) and PATH(i, D[n]) for every leaf at once (n > 0), in O(n log n): what
    :func:`inclusion_path` gives one leaf at a time."""
    n = len(leaf_hashes)
    if n == 0:
        raise ValueError("a tree of no leaves has no paths")
    if n == 1:
        return leaf_hashes[0], [[]]
    k = largest_power_of_two_below(n)
    left, left_paths = all_inclusion_paths(leaf_hashes[:k])
    right, right_paths = all_inclusion_paths(leaf_hashes[k:])
    for path in left_paths:
        path.append(right)
    for path in right_paths:
        path.append(left)
    return node_hash(left, right), [*left_paths, *right_paths]


def root_from_path(leaf: bytes, index: int, tree_size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` leads to from leaf hash ``leaf`` at ``index`` (None when the
    path cannot belong to a tree of ``tree_size``); :func:`verify_inclusion` compares it."""
    if not 0 <= index < tree_size:
        return None
    fn, sn = index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def consistency_proof(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true). Empty for ``first`` 0 or ``first == n``."""
    n = len(leaf_hashes)
    if not 0 <= first <= n:
        raise ValueError(f"tree size {first} is not within a tree of size {n}")
    if first == 0:
        return []
    return _subproof(first, leaf_hashes, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete=complete), mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], complete=False), mth(leaves[:k])]


# ---------------------------------------------------------------------------------------------
# Planners: which subtrees a proof is made of


def inclusion_ranges(index: int, tree_size: int) -> list[Range]:
    """The subtree ranges whose MTHs form PATH(index, D[tree_size]), in proof order."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    ranges: list[Range] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The subtree ranges whose MTHs form PROOF(first, D[second]), in proof order."""
    if not 0 <= first <= second:
        raise ValueError(f"cannot prove tree size {first} consistent with size {second}")
    if first in (0, second):
        return []
    ranges: list[Range] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = largest_power_of_two_below(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def perfect_cover(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees ``(level, index)`` that make up the range ``[start, end)``.

    For every range a proof or a root uses (``start`` aligned to the size of the range),
    these are the binary decomposition of its size, largest first, and
    ``MTH(D[start:end])`` is their hashes folded from the right.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    cover: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        cover.append((level, start >> level))
        start += 1 << level
    return cover


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree hashes (left to right, largest first) into their MTH."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def nodes_for(ranges: Iterable[Range]) -> set[NodeId]:
    """Every perfect subtree needed to hash the given ranges."""
    return {node for start, end in ranges for node in perfect_cover(start, end)}


def hash_ranges(ranges: Iterable[Range], lookup: Callable[[NodeId], bytes]) -> list[bytes]:
    """The MTH of each range, from the perfect-subtree hashes ``lookup`` gives."""
    return [fold([lookup(node) for node in perfect_cover(start, end)]) for start, end in ranges]


def frontier(tree_size: int) -> list[NodeId]:
    """The perfect subtrees of a tree of ``tree_size`` leaves (its root is their fold)."""
    return perfect_cover(0, tree_size) if tree_size else []


# ---------------------------------------------------------------------------------------------
# Verifiers (RFC 9162 §2.1.3.2 and §2.1.4.2)


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves that leaf hash ``leaf`` is at ``index`` in the tree ``root``."""
    found = root_from_path(leaf, index, tree_size, path)
    return found is not None and found == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``second_root`` extends the tree ``first_root``.

    RFC 9162 defines the check for ``0 < first < second``; the edge cases follow from the
    definitions: equal sizes need an empty proof and equal roots, and every tree extends
    the empty one (an empty proof, ``first_root`` the empty root).
    """
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of 2
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
