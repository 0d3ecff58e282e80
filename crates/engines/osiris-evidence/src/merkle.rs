//! A Merkle tree over one appliance's chain, hashed as RFC 6962/9162 do:
//! leaf = SHA-256(0x00 || canonical bundle bytes), node = SHA-256(0x01 ||
//! left || right), the tree over `n` leaves split at the largest power of
//! two below `n`. An auditor holding the root (signed by the server in the
//! manifest) verifies one bundle with its inclusion proof alone.

use sha2::{Digest, Sha256};

use crate::bundle::{decode_hex, hex};

/// A tree hash: a leaf's, a node's or the root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeHash(pub [u8; 32]);

impl TreeHash {
    /// Parses 64 lowercase hex digits.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        decode_hex::<32>(text).map(Self)
    }
}

impl std::fmt::Display for TreeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl std::fmt::Debug for TreeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TreeHash({self})")
    }
}

/// The leaf hash of one bundle's canonical bytes.
#[must_use]
pub fn leaf_hash(bundle: &[u8]) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(bundle);
    TreeHash(hasher.finalize().into())
}

/// The hash of an interior node.
#[must_use]
pub fn node_hash(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    TreeHash(hasher.finalize().into())
}

/// The largest power of two strictly below `n` (`n >= 2`).
const fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root over `leaves` (RFC 9162 MTH); the empty tree's root is
/// SHA-256 of nothing.
#[must_use]
pub fn root(leaves: &[TreeHash]) -> TreeHash {
    match leaves {
        [] => TreeHash(Sha256::digest([]).into()),
        [one] => *one,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// The inclusion proof of leaf `index` (RFC 9162 PATH), or `None` when the
/// index is outside the tree.
#[must_use]
pub fn inclusion_proof(leaves: &[TreeHash], index: usize) -> Option<Vec<TreeHash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(leaves, index, &mut proof);
    Some(proof)
}

fn path(leaves: &[TreeHash], index: usize, proof: &mut Vec<TreeHash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    if index < k {
        path(left, index, proof);
        proof.push(root(right));
    } else {
        path(right, index - k, proof);
        proof.push(root(left));
    }
}

/// Every level of the tree, leaves first, so that each leaf's inclusion
/// proof is read in O(log n) without recomputing subtrees: about twice the
/// leaves' memory (64 bytes per leaf), and proofs made one at a time, never
/// all held at once (a million-bundle export would need a gigabyte).
///
/// Pairing each level's nodes left to right and carrying an odd last node
/// up unchanged builds the same tree as RFC 9162's split at the largest
/// power of two below the size.
#[derive(Debug, Clone)]
pub struct ProofTree {
    levels: Vec<Vec<TreeHash>>,
}

impl ProofTree {
    /// The tree over `leaves`.
    #[must_use]
    pub fn new(leaves: &[TreeHash]) -> Self {
        let mut levels = vec![leaves.to_vec()];
        while let Some(level) = levels.last()
            && level.len() > 1
        {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                match pair {
                    [left, right] => next.push(node_hash(left, right)),
                    [one] => next.push(*one),
                    _ => {}
                }
            }
            levels.push(next);
        }
        Self { levels }
    }

    /// The inclusion proof of leaf `index` (RFC 9162 PATH, nearest sibling
    /// first); empty for an index outside the tree or a one-leaf tree.
    #[must_use]
    pub fn proof(&self, index: usize) -> Vec<TreeHash> {
        let mut proof = Vec::new();
        let mut at = index;
        for level in &self.levels {
            if at >= level.len() {
                break;
            }
            // An odd last node has no sibling: it is carried up as it is.
            if let Some(sibling) = level.get(at ^ 1) {
                proof.push(*sibling);
            }
            at >>= 1;
        }
        proof
    }
}

/// The root computed leaf by leaf in O(log n) memory, for chains that are
/// streamed (equal to [`root`] over the same leaves).
#[derive(Debug, Default, Clone)]
pub struct RootBuilder {
    /// Roots of complete subtrees, with their leaf counts, left to right.
    stack: Vec<(u64, TreeHash)>,
}

impl RootBuilder {
    /// Appends the next leaf.
    pub fn push(&mut self, leaf: TreeHash) {
        let mut current = (1u64, leaf);
        while let Some(&(size, hash)) = self.stack.last() {
            if size != current.0 {
                break;
            }
            self.stack.pop();
            current = (size * 2, node_hash(&hash, &current.1));
        }
        self.stack.push(current);
    }

    /// The root over every leaf pushed.
    #[must_use]
    pub fn root(&self) -> TreeHash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, mut hash)) = iter.next() else {
            return root(&[]);
        };
        for (_, left) in iter {
            hash = node_hash(left, &hash);
        }
        hash
    }
}

/// Whether `proof` shows leaf `leaf` at `index` in a tree of `size` leaves
/// with root `root` (RFC 9162 section 2.1.3.2).
#[must_use]
pub fn verify_inclusion(
    leaf: &TreeHash,
    index: u64,
    size: u64,
    proof: &[TreeHash],
    root: &TreeHash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(n: usize) -> Vec<TreeHash> {
        (0..n)
            .map(|i| leaf_hash(format!("bundle {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn hashes_follow_rfc_6962() {
        // RFC 6962's empty tree and a single empty leaf.
        assert_eq!(
            root(&[]).to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            leaf_hash(b"").to_string(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let three = leaves(3);
        assert_eq!(
            root(&three),
            node_hash(&node_hash(&three[0], &three[1]), &three[2])
        );
    }

    #[test]
    fn a_one_leaf_tree_has_an_empty_proof() {
        let one = leaves(1);
        assert_eq!(inclusion_proof(&one, 0), Some(vec![]));
        assert!(verify_inclusion(&one[0], 0, 1, &[], &root(&one)));
        assert_eq!(inclusion_proof(&one, 1), None);
    }

    #[test]
    fn the_streamed_root_equals_the_recursive_one() {
        for n in 0..100 {
            let tree = leaves(n);
            let mut builder = RootBuilder::default();
            for leaf in &tree {
                builder.push(*leaf);
            }
            assert_eq!(builder.root(), root(&tree), "{n} leaves");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_leaf_verifies_and_any_alteration_fails(n in 1usize..70, pick in any::<prop::sample::Index>(), byte in 0usize..32, bit in 0u8..8) {
            let tree = leaves(n);
            let top = root(&tree);
            let proof_tree = ProofTree::new(&tree);
            let proofs: Vec<_> = (0..n).map(|i| proof_tree.proof(i)).collect();
            prop_assert!(proof_tree.proof(n).is_empty());
            for (i, proof) in proofs.iter().enumerate() {
                prop_assert_eq!(Some(proof.clone()), inclusion_proof(&tree, i));
                prop_assert!(verify_inclusion(&tree[i], i as u64, n as u64, proof, &top));
            }
            let i = pick.index(n);
            let proof = &proofs[i];
            // Another leaf's bytes.
            let mut leaf = tree[i];
            leaf.0[byte] ^= 1 << bit;
            prop_assert!(!verify_inclusion(&leaf, i as u64, n as u64, proof, &top));
            // Another index or size.
            for other in 0..n {
                if other != i && tree[other] != tree[i] {
                    prop_assert!(!verify_inclusion(&tree[i], other as u64, n as u64, proof, &top));
                }
            }
            prop_assert!(!verify_inclusion(&tree[i], n as u64, n as u64, proof, &top));
            // Any altered sibling.
            for s in 0..proof.len() {
                let mut altered = proof.clone();
                altered[s].0[byte] ^= 1 << bit;
                prop_assert!(!verify_inclusion(&tree[i], i as u64, n as u64, &altered, &top));
            }
            // A sibling more or less.
            let mut longer = proof.clone();
            longer.push(top);
            prop_assert!(!verify_inclusion(&tree[i], i as u64, n as u64, &longer, &top));
            if !proof.is_empty() {
                prop_assert!(!verify_inclusion(&tree[i], i as u64, n as u64, &proof[1..], &top));
            }
        }
    }
}
