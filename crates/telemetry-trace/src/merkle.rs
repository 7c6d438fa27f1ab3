//! The Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0, the
//! hashing of RFC 6962): an append-only log of leaves with inclusion and
//! consistency proofs.
//!
//! [`MerkleTree`] keeps the hash of every complete, aligned power-of-two
//! subtree (2n − 1 hashes for n leaves), so the root of any earlier size and
//! any proof cost O(log² n) hashes at most, never a pass over the leaves. A
//! proof has one hash per level of the tree: at most ⌈log₂ n⌉, so at most
//! 32 for 2³² leaves, by construction.
//!
//! The verifiers, [`verify_inclusion`] and [`verify_consistency`], follow
//! the algorithms of §2.1.3.2 and §2.1.4.2 step by step and need nothing
//! but the proof, the sizes and the roots.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, an interior node or a root.
pub type Hash = [u8; 32];

/// The hash of a leaf: `SHA-256(0x00 ‖ data)` (RFC 9162 §2.1.1).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a tree could not give a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The size asked for is larger than the tree.
    #[error("tree size {size} is larger than the tree ({len} leaves)")]
    SizeBeyondTree {
        /// The size asked for.
        size: u64,
        /// The leaves in the tree.
        len: u64,
    },
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexBeyondSize {
        /// The index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// The old size of a consistency proof is larger than the new one.
    #[error("old size {old_size} is larger than new size {new_size}")]
    OldSizeBeyondNew {
        /// The old size.
        old_size: u64,
        /// The new size.
        new_size: u64,
    },
}

/// An in-memory, append-only Merkle tree of leaf hashes.
///
/// ```
/// use telemetry_trace::merkle::{MerkleTree, leaf_hash, verify_consistency, verify_inclusion};
///
/// let mut tree = MerkleTree::new();
/// for data in [b"a", b"b", b"c", b"d", b"e"] {
///     tree.push(leaf_hash(data));
/// }
/// let proof = tree.inclusion_proof(2, 5)?;
/// assert!(verify_inclusion(&leaf_hash(b"c"), 2, 5, &proof, &tree.root()));
///
/// let old_root = tree.root_at(3)?;
/// let proof = tree.consistency_proof(3, 5)?;
/// assert!(verify_consistency(3, 5, &old_root, &tree.root(), &proof));
/// # Ok::<(), telemetry_trace::merkle::ProofError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[k][i]` is the hash of leaves `i·2ᵏ .. (i+1)·2ᵏ`: level 0
    /// holds the leaves, and a level gains a node when the one below it
    /// completes a pair.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash (see [`leaf_hash`]) and returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.len();
        let mut node = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(node);
            if nodes.len() % 2 == 1 {
                break index;
            }
            node = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }

    /// The number of leaves.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Whether the tree has no leaves.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root of the whole tree ([`empty_root`] when it is empty).
    #[must_use]
    pub fn root(&self) -> Hash {
        self.subtree(0, self.len())
    }

    /// The root the tree had when it held `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves
    /// (RFC 9162 §2.1.3.1), from the leaf's sibling up to the root's child.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexBeyondSize { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    /// The consistency proof between the trees of `old_size` and `new_size`
    /// leaves (RFC 9162 §2.1.4.1). Empty when `old_size` is 0 or equals
    /// `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(ProofError::OldSizeBeyondNew { old_size, new_size });
        }
        let mut proof = Vec::new();
        if old_size > 0 && old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut proof);
        }
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        let len = self.len();
        if size > len {
            return Err(ProofError::SizeBeyondTree { size, len });
        }
        Ok(())
    }

    /// MTH of leaves `start .. start + len`, where `start` is a multiple of
    /// the largest power of two below `len` (as every range RFC 9162's
    /// recursion visits is): O(log n) lookups and hashes.
    fn subtree(&self, start: u64, len: u64) -> Hash {
        if len == 0 {
            return empty_root();
        }
        if len.is_power_of_two() {
            let level = len.trailing_zeros() as usize;
            return self.levels[level][index_of(start >> level)];
        }
        let split = split_point(len);
        node_hash(
            &self.subtree(start, split),
            &self.subtree(start + split, len - split),
        )
    }

    /// PATH(index, D[start .. start + len]), appended leaf-side first.
    fn path(&self, index: u64, start: u64, len: u64, proof: &mut Vec<Hash>) {
        if len <= 1 {
            return;
        }
        let split = split_point(len);
        if index < split {
            self.path(index, start, split, proof);
            proof.push(self.subtree(start + split, len - split));
        } else {
            self.path(index - split, start + split, len - split, proof);
            proof.push(self.subtree(start, split));
        }
    }

    /// SUBPROOF(old, D[start .. start + len], complete).
    fn subproof(&self, old: u64, start: u64, len: u64, complete: bool, proof: &mut Vec<Hash>) {
        if old == len {
            if !complete {
                proof.push(self.subtree(start, len));
            }
            return;
        }
        let split = split_point(len);
        if old <= split {
            self.subproof(old, start, split, complete, proof);
            proof.push(self.subtree(start + split, len - split));
        } else {
            self.subproof(old - split, start + split, len - split, false, proof);
            proof.push(self.subtree(start, split));
        }
    }
}

/// The largest power of two smaller than `len` (which is at least 2).
fn split_point(len: u64) -> u64 {
    debug_assert!(len >= 2);
    1 << (len - 1).ilog2()
}

/// A node's index on its level: it is below the tree's length, which is a
/// `Vec` length, so it fits in `usize`.
fn index_of(index: u64) -> usize {
    usize::try_from(index).expect("a node index is below a Vec's length")
}

/// Whether `proof` shows that `leaf` is at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
#[must_use]
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    // 1. Compare leaf_index from the inclusion_proof against tree_size.
    if index >= size {
        return false;
    }
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let (mut fnode, mut snode) = (index, size - 1);
    // 3. Set r to hash.
    let mut r = *leaf;
    // 4. For each value p in the inclusion_path array:
    for p in proof {
        // a. If sn is 0, then stop the iteration and fail the proof
        //    verification.
        if snode == 0 {
            return false;
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fnode & 1 == 1 || fnode == snode {
            // i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn
            //     equally until either LSB(fn) is set or fn is 0.
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            // Otherwise: set r to HASH(0x01 || r || p).
            r = node_hash(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fnode >>= 1;
        snode >>= 1;
    }
    // 5. Compare sn to 0. Compare r against the root_hash.
    snode == 0 && r == *root
}

/// Whether `proof` shows that the tree of `old_size` leaves with root
/// `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root` (RFC 9162 §2.1.4.2).
///
/// Two cases the RFC leaves out are decided as RFC 9162's reference
/// implementations do: equal sizes need an empty proof and equal roots, and
/// an old size of 0 needs an empty proof and the empty tree's root.
#[must_use]
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    // 1. If consistency_path is an empty array, stop and fail the proof
    //    verification.
    if proof.is_empty() {
        return false;
    }
    // 2. If first is an exact power of 2, then prepend first_hash to the
    //    consistency_path array.
    let mut path = proof.iter();
    let first = if old_size.is_power_of_two() {
        old_root
    } else {
        match path.next() {
            Some(first) => first,
            None => return false,
        }
    };
    // 3. Set fn to first - 1 and sn to second - 1.
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    // 4. If LSB(fn) is set, then right-shift both fn and sn equally until
    //    LSB(fn) is not set.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let (mut fr, mut sr) = (*first, *first);
    // 6. For each subsequent value c in the consistency_path array:
    for c in path {
        // a. If sn is 0, then stop the iteration and fail the proof
        //    verification.
        if snode == 0 {
            return false;
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fnode & 1 == 1 || fnode == snode {
            // i. Set fr to HASH(0x01 || c || fr). Set sr to
            //    HASH(0x01 || c || sr).
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn
            //     equally until either LSB(fn) is set or fn is 0.
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            // Otherwise: set sr to HASH(0x01 || sr || c).
            sr = node_hash(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fnode >>= 1;
        snode >>= 1;
    }
    // 7. Verify that fr equals first_hash, sr equals second_hash and sn is 0.
    fr == *old_root && sr == *new_root && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH of RFC 9162 §2.1.1, written as the RFC writes it: recursive,
    /// over the leaf hashes, with no shortcut.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = naive_split(n);
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    fn naive_split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1.
    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = naive_split(n);
        if m < k {
            let mut path = naive_path(m, &leaves[..k]);
            path.push(naive_root(&leaves[k..]));
            path
        } else {
            let mut path = naive_path(m - k, &leaves[k..]);
            path.push(naive_root(&leaves[..k]));
            path
        }
    }

    /// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
    fn naive_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![naive_root(leaves)]
            };
        }
        let k = naive_split(n);
        if m <= k {
            let mut proof = naive_subproof(m, &leaves[..k], complete);
            proof.push(naive_root(&leaves[k..]));
            proof
        } else {
            let mut proof = naive_subproof(m - k, &leaves[k..], false);
            proof.push(naive_root(&leaves[..k]));
            proof
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn tree_of(leaves: &[Hash]) -> MerkleTree {
        let mut tree = MerkleTree::new();
        for (i, leaf) in leaves.iter().enumerate() {
            assert_eq!(tree.push(*leaf), i as u64);
        }
        tree
    }

    fn flip(hash: &Hash) -> Hash {
        let mut hash = *hash;
        hash[7] ^= 0x20;
        hash
    }

    #[test]
    fn hashes_are_domain_separated_as_rfc_9162_says() {
        // SHA-256("") and SHA-256(0x00): the empty tree and the empty leaf.
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(MerkleTree::new().root(), empty_root());
    }

    #[test]
    fn roots_match_the_naive_definition_at_every_size() {
        let all = leaves(70);
        let tree = tree_of(&all);
        for size in 0..=70 {
            assert_eq!(
                tree.root_at(size as u64).unwrap(),
                naive_root(&all[..size]),
                "size {size}"
            );
        }
        assert_eq!(tree.root(), naive_root(&all));
    }

    #[test]
    fn inclusion_proofs_match_the_naive_definition_and_verify() {
        let all = leaves(70);
        let tree = tree_of(&all);
        for size in 1..=70 {
            let root = naive_root(&all[..size]);
            for index in 0..size {
                let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
                assert_eq!(proof, naive_path(index, &all[..size]), "{index} in {size}");
                assert!(verify_inclusion(
                    &all[index],
                    index as u64,
                    size as u64,
                    &proof,
                    &root
                ));
            }
        }
    }

    #[test]
    fn tampered_inclusion_proofs_fail() {
        let all = leaves(70);
        let tree = tree_of(&all);
        for size in [2_u64, 3, 7, 8, 33, 70] {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                let leaf = &all[usize::try_from(index).unwrap()];
                let proof = tree.inclusion_proof(index, size).unwrap();
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = flip(&bad[i]);
                    assert!(!verify_inclusion(leaf, index, size, &bad, &root));
                }
                // A hash too many, a hash too few, the wrong leaf, index or
                // root. (A wrong size is not always caught: the size binds
                // only through the proof's shape, and the root binds it.)
                let mut longer = proof.clone();
                longer.push(root);
                assert!(!verify_inclusion(leaf, index, size, &longer, &root));
                assert!(!verify_inclusion(leaf, index, size, &proof[1..], &root));
                assert!(!verify_inclusion(&flip(leaf), index, size, &proof, &root));
                assert!(!verify_inclusion(leaf, index ^ 1, size, &proof, &root));
                assert!(!verify_inclusion(leaf, size, size, &proof, &root));
                assert!(!verify_inclusion(leaf, index, size, &proof, &flip(&root)));
            }
        }
    }

    #[test]
    fn consistency_proofs_match_the_naive_definition_and_verify() {
        let all = leaves(70);
        let tree = tree_of(&all);
        for new in 0..=70_usize {
            let new_root = naive_root(&all[..new]);
            for old in 0..=new {
                let old_root = naive_root(&all[..old]);
                let proof = tree.consistency_proof(old as u64, new as u64).unwrap();
                if old > 0 && old < new {
                    assert_eq!(
                        proof,
                        naive_subproof(old, &all[..new], true),
                        "{old} → {new}"
                    );
                } else {
                    assert!(proof.is_empty());
                }
                assert!(
                    verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof),
                    "{old} → {new}"
                );
            }
        }
    }

    #[test]
    fn tampered_consistency_proofs_fail() {
        let all = leaves(70);
        let tree = tree_of(&all);
        for new in 1..=70_u64 {
            let new_root = tree.root_at(new).unwrap();
            for old in 1..new {
                let old_root = tree.root_at(old).unwrap();
                let proof = tree.consistency_proof(old, new).unwrap();
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = flip(&bad[i]);
                    assert!(!verify_consistency(old, new, &old_root, &new_root, &bad));
                }
                assert!(!verify_consistency(
                    old,
                    new,
                    &flip(&old_root),
                    &new_root,
                    &proof
                ));
                assert!(!verify_consistency(
                    old,
                    new,
                    &old_root,
                    &flip(&new_root),
                    &proof
                ));
                assert!(!verify_consistency(
                    old,
                    new,
                    &old_root,
                    &new_root,
                    &proof[1..]
                ));
                assert!(!verify_consistency(old, new, &old_root, &new_root, &[]));
                assert!(!verify_consistency(new, old, &new_root, &old_root, &proof));
                let mut longer = proof.clone();
                longer.push(new_root);
                assert!(!verify_consistency(old, new, &old_root, &new_root, &longer));
            }
        }
        let root = tree.root_at(5).unwrap();
        assert!(!verify_consistency(5, 5, &root, &flip(&root), &[]));
        assert!(!verify_consistency(5, 5, &root, &root, &[root]));
        assert!(!verify_consistency(0, 5, &root, &root, &[]));
    }

    #[test]
    fn sizes_beyond_the_tree_are_errors() {
        let tree = tree_of(&leaves(4));
        assert_eq!(
            tree.root_at(5),
            Err(ProofError::SizeBeyondTree { size: 5, len: 4 })
        );
        assert_eq!(
            tree.inclusion_proof(4, 4),
            Err(ProofError::IndexBeyondSize { index: 4, size: 4 })
        );
        assert_eq!(
            tree.consistency_proof(3, 2),
            Err(ProofError::OldSizeBeyondNew {
                old_size: 3,
                new_size: 2
            })
        );
        assert!(tree.consistency_proof(1, 5).is_err());
    }

    /// An inclusion proof has one hash per level: 20 at 2²⁰ leaves, so at
    /// most 32 at 2³² by construction.
    #[test]
    fn a_proof_at_two_to_the_twenty_leaves_has_twenty_hashes() {
        let size = 1_u64 << 20;
        let mut tree = MerkleTree::new();
        for i in 0..size {
            tree.push(leaf_hash(&i.to_le_bytes()));
        }
        let root = tree.root();
        for index in [0, 1, 12_345, size / 2, size - 1] {
            let proof = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(proof.len(), 20);
            let leaf = leaf_hash(&index.to_le_bytes());
            assert!(verify_inclusion(&leaf, index, size, &proof, &root));
        }
        // One leaf more: the tree is 21 levels deep on the right edge only.
        tree.push(leaf_hash(b"one more"));
        assert_eq!(tree.inclusion_proof(size, size + 1).unwrap().len(), 1);
        assert_eq!(tree.inclusion_proof(0, size + 1).unwrap().len(), 21);
    }
}
